"""The workflow editor editors use in the admin: one block per state and one per step.

`definition_from_stream()` turns what the editor built into a plain definition
(services/workflows/spec.py), which is what gets validated, versioned and run by the engine;
`stream_data_from_definition()` goes the other way, so existing workflows open pre-filled.

A step's states are chosen from the workflow's own states (as the editor has them on the page,
services/widgets.py) and who takes it from the tenant's staff groups or the applicant; what is
stored is the same text as when they were typed (state codes, a group name).
"""

import re
from collections import defaultdict

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import connection
from django.utils.choices import CallableChoiceIterator
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name
from wagtail import blocks
from wagtail.blocks.stream_block import StreamBlockValidationError
from wagtail.blocks.struct_block import StructBlockValidationError

from tenants import staff

from ..widgets import ChooserCheckboxes, ChooserSelect
from . import spec as workflowspec

APPLICANT = "applicant"  # the applicant's own step, as services.cases.engine.APPLICANT
CODES_RE = re.compile(r"^\s*[a-z][a-z0-9_]{0,39}(\s*,\s*[a-z][a-z0-9_]{0,39})*\s*,?\s*$")
CODE_ERROR = _("Use a-z, 0-9 and _, starting with a letter (at most 40 characters).")


def code_block(**kwargs):
    return blocks.RegexBlock(regex=workflowspec.CODE_RE.pattern, max_length=40,
                             error_messages={"invalid": CODE_ERROR}, **kwargs)


def group_choices():
    """Who may take a step: the tenant's staff groups, then the applicant (none outside a
    tenant's schema, e.g. when migrations are made)."""
    if getattr(connection, "schema_name", None) in (None, get_public_schema_name()):
        return []
    return [*((name, staff.group_label(name)) for name in Group.objects.order_by("name")
              .values_list("name", flat=True)),
            (APPLICANT, _("The applicant (their own step, e.g. sending what was asked)"))]


class StateChoiceBlock(blocks.FieldBlock):
    """One of the workflow's states, chosen by name; stored as its code."""

    def __init__(self, required=True, help_text=None, **kwargs):
        self.field = forms.CharField(
            required=required, help_text=help_text, max_length=40,
            validators=[RegexValidator(workflowspec.CODE_RE, CODE_ERROR)],
            widget=ChooserSelect(source="states", missing="no_state"))
        super().__init__(**kwargs)


class StateListBlock(blocks.FieldBlock):
    """Some of the workflow's states, ticked; stored as their codes separated by commas."""

    def __init__(self, required=True, help_text=None, **kwargs):
        self.field = forms.CharField(
            required=required, help_text=help_text, max_length=500,
            validators=[RegexValidator(CODES_RE, _("Write state codes separated by commas, "
                                                   "e.g. received, in_review."))],
            widget=ChooserCheckboxes(source="states", label=kwargs.get("label") or ""))
        super().__init__(**kwargs)


class GroupChoiceBlock(blocks.FieldBlock):
    """Who takes a step: a staff group of the tenant or the applicant. A group named here
    before it was made stays (the workflow's overview says it does not exist yet)."""

    def __init__(self, required=True, help_text=None, **kwargs):
        self.field = forms.CharField(
            required=required, help_text=help_text, max_length=150,
            widget=ChooserSelect(choices=CallableChoiceIterator(group_choices),
                                 missing="no_group"))
        super().__init__(**kwargs)


class StateBlock(blocks.StructBlock):
    code = code_block(label=_("Code"), help_text=_(
        "Short name the system keeps, e.g. in_review. Do not rename a state cases are in."))
    label_ru = blocks.CharBlock(max_length=200, label=_("Name in Russian"))
    label_en = blocks.CharBlock(max_length=200, label=_("Name in English"))
    initial = blocks.BooleanBlock(required=False, default=False, label=_("New cases start here"))
    terminal = blocks.BooleanBlock(required=False, default=False, label=_("Ends the case"),
                                   help_text=_("E.g. approved, refused, withdrawn."))
    clock = blocks.ChoiceBlock(
        choices=[("runs", _("The deadline clock runs")),
                 ("paused", _("The deadline clock stops (waiting for the applicant)"))],
        default="runs", label=_("Deadline"))

    class Meta:
        icon = "circle-check"
        label = _("State")
        form_classname = "workflow-state"


class TransitionBlock(blocks.StructBlock):
    code = code_block(label=_("Code"), help_text=_("Short name the system keeps, e.g. approve."))
    label_ru = blocks.CharBlock(max_length=200, label=_("Button text in Russian"))
    label_en = blocks.CharBlock(max_length=200, label=_("Button text in English"))
    from_states = StateListBlock(label=_("From states"),
                                 help_text=_("The states it can be taken in."))
    to_state = StateChoiceBlock(label=_("To state"), help_text=_("The state it leads to."))
    group = GroupChoiceBlock(
        label=_("Taken by"),
        help_text=_("A staff group (Settings → Groups), or the applicant for their own step, "
                    "such as sending the information asked for."))
    requires = blocks.MultipleChoiceBlock(
        choices=list(workflowspec.REQUIREMENTS.items()), required=False,
        label=_("Staff must give"))
    notify = blocks.BooleanBlock(required=False, default=True, label=_("Tell the applicant"))

    class Meta:
        icon = "arrow-right"
        label = _("Step")
        form_classname = "workflow-step"


def state_blocks():
    return [("state", StateBlock())]


def transition_blocks():
    return [("transition", TransitionBlock())]


def _values(stream):
    """Block values of a StreamValue, or of raw stream data (lists of {"type", "value"})."""
    for item in stream or ():
        yield dict(item["value"]) if isinstance(item, dict) else dict(item.value)


def split_codes(text):
    """"received, in_review" -> ["received", "in_review"] (each once, in the order given)."""
    return list(dict.fromkeys(code.strip() for code in (text or "").split(",") if code.strip()))


def definition_from_stream(states, transitions):
    """The workflow definition the blocks describe (not yet validated)."""
    state_values = list(_values(states))
    starts = [value["code"] for value in state_values if value.get("initial")]
    return {
        "initial": starts[0] if starts else "",
        "states": [{"code": value.get("code") or "",
                    "label": {"ru": value.get("label_ru") or "", "en": value.get("label_en") or ""},
                    "terminal": bool(value.get("terminal")),
                    "clock": value.get("clock") or "runs"}
                   for value in state_values],
        "transitions": [{"code": value.get("code") or "",
                         "label": {"ru": value.get("label_ru") or "",
                                   "en": value.get("label_en") or ""},
                         "from": split_codes(value.get("from_states")),
                         "to": value.get("to_state") or "",
                         "group": (value.get("group") or "").strip(),
                         "requires": list(value.get("requires") or []),
                         "notify": bool(value.get("notify"))}
                        for value in _values(transitions)],
    }


def stream_problems(states):
    """What the blocks get wrong that a definition cannot express (so validate cannot see)."""
    starts = [value.get("code") for value in _values(states) if value.get("initial")]
    if len(starts) > 1:
        return [_("New cases can start in one state only; untick “New cases start here” on "
                  "all but one of: %(states)s.") % {"states": ", ".join(starts)}]
    return []


def block_errors(states, transitions):
    """The problems of the workflow the blocks describe, placed on the blocks where they were
    made: {"states": error, "transitions": error} (a StreamBlockValidationError each, for the
    StreamField to show on its blocks; absent when that field has none). The same messages
    as Workflow.clean gives for the workflow as a whole."""
    definition = definition_from_stream(states, transitions)
    found = {"states": defaultdict(lambda: defaultdict(list)),
             "transitions": defaultdict(lambda: defaultdict(list))}
    whole = {"states": [], "transitions": []}
    starts = [index for index, value in enumerate(_values(states)) if value.get("initial")]
    for message in stream_problems(states):
        for index in starts[1:]:
            found["states"][index]["initial"].append(message)
    for (kind, index, part), message in workflowspec.problems(definition):
        field = "states" if kind in ("state", "states") else "transitions"
        if index is None:
            whole[field].append(message)
        else:
            found[field][index][part].append(message)
    errors = {}
    for field in ("states", "transitions"):
        if found[field] or whole[field]:
            errors[field] = StreamBlockValidationError(
                block_errors={index: StructBlockValidationError(
                    block_errors={part: ValidationError(messages)
                                  for part, messages in parts.items() if part},
                    non_block_errors=parts.get(None))
                    for index, parts in found[field].items()},
                non_block_errors=whole[field])
    return errors


def stream_data_from_definition(definition):
    """The editor's raw StreamField data for a definition: {"states": [...], "transitions":
    [...]} (existing workflows, the data migration, tests)."""
    initial = definition.get("initial")
    states = [{"type": "state", "value": {
        "code": state.get("code") or "",
        "label_ru": (state.get("label") or {}).get("ru") or "",
        "label_en": (state.get("label") or {}).get("en") or "",
        "initial": state.get("code") == initial,
        "terminal": bool(state.get("terminal")),
        "clock": state.get("clock") or "runs",
    }} for state in definition.get("states") or []]
    transitions = [{"type": "transition", "value": {
        "code": transition.get("code") or "",
        "label_ru": (transition.get("label") or {}).get("ru") or "",
        "label_en": (transition.get("label") or {}).get("en") or "",
        "from_states": ", ".join(transition.get("from") or []),
        "to_state": transition.get("to") or "",
        "group": transition.get("group") or "",
        "requires": list(transition.get("requires") or []),
        "notify": bool(transition.get("notify")),
    }} for transition in definition.get("transitions") or []]
    return {"states": states, "transitions": transitions}


def normalise(definition):
    """The definition as the editor would save it (missing keys filled in), for comparing."""
    data = stream_data_from_definition(definition or {})
    return definition_from_stream(data["states"], data["transitions"])


def overview(definition, language, existing_groups=()):
    """Rows for the read-only overview of a saved workflow (admin edit view)."""
    def text(item):
        label = item.get("label") or {}
        return label.get(language) or label.get("ru") or item.get("code")

    existing = set(existing_groups)
    states = [{"code": state["code"], "label": text(state),
               "initial": state["code"] == definition.get("initial"),
               "terminal": bool(state.get("terminal")),
               "paused": state.get("clock") == "paused",
               "steps": [text(t) for t in workflowspec.transitions_from(definition,
                                                                        state["code"])]}
              for state in definition.get("states") or []]
    steps = [{"code": t["code"], "label": text(t),
              "from": [workflowspec.label(definition, code, language) for code in t["from"]],
              "to": workflowspec.label(definition, t["to"], language),
              "applicant": t["group"] == APPLICANT, "group": t["group"],
              "group_missing": t["group"] != APPLICANT and t["group"] not in existing,
              "requires": [str(workflowspec.REQUIREMENTS.get(r, r))
                           for r in t.get("requires") or []],
              "notify": bool(t.get("notify"))}
             for t in definition.get("transitions") or []]
    return {"states": states, "steps": steps}
