"""The automatic rules builder in the admin: each rule a block ("when [question or register
field] [operator] [value], and/or more, then [step] / route to [group]"), or, for a rule the
builder cannot say, its JSON to edit as it is. What is saved is the same JSON list
services/rules/logic.py checks and runs (services/rules/builder.py translates both ways).

The lists offer what the saved service has: its form's questions, the registers it looks up,
the steps its workflow allows for a new case, the tenant's staff groups. A question added a
moment ago is offered once the service is saved; a rule naming something that does not fit
is refused with the reason, shown on the rule (and the part of it) where it was made.

`RulesBuilderFormMixin` puts the builder on an admin form of a model with a `rules` JSON
field, a `spec`, `lookups` and `workflow_definition()` (OnlineService).
"""

import json
from collections import defaultdict
from dataclasses import dataclass

from django import forms
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.base import Block, BlockField
from wagtail.blocks.list_block import ListBlockValidationError
from wagtail.blocks.stream_block import StreamBlockValidationError, StreamValue
from wagtail.blocks.struct_block import StructBlockValidationError

from tenants import staff

from ..registers import service as registers
from ..registers.models import Register
from ..widgets import AnswerInput, ChooserSelect
from ..workflows import spec as workflowspec
from ..workflows.models import DEFAULT_NAME, Workflow
from . import builder, logic


@dataclass(frozen=True)
class Context:
    """What a service's rules can read and do: Subjects, steps and groups as (value, words)."""

    subjects: tuple
    steps: tuple
    groups: tuple


def context_for(service):
    """The lists the builder offers for a service, from what is saved."""
    spec = service.spec if service.form else []  # a draft's form too (rows kept in revisions)
    looked_up, _problems = registers.check_lookups(service.lookups, spec)
    found = {register.code: register for register in
             Register.objects.filter(code__in=list(looked_up))}
    read = [(code, found[code].name, [(f["name"], f["type"])
                                      for f in found[code].declared_fields])
            for code in looked_up if code in found]
    definition = _workflow_definition(service)
    language = (get_language() or "ru").split("-")[0]
    steps = [(t["code"], f"{(t.get('label') or {}).get(language) or t['code']} ({t['code']})")
             for t in workflowspec.transitions_from(definition, definition.get("initial"))]
    steps.append(("route", str(_("Route to a staff group"))))
    groups = [(name, staff.group_label(name)) for name in Group.objects.order_by("name")
              .values_list("name", flat=True)]
    return Context(tuple(builder.subjects(spec, read)), tuple(steps), tuple(groups))


def _workflow_definition(service):
    """The service's workflow as saved; the standard one without making it (showing a form
    writes nothing)."""
    if service.workflow_id:
        return service.workflow.definition
    saved = Workflow.objects.filter(name=DEFAULT_NAME).values_list("definition", flat=True)
    return saved.first() or workflowspec.default_definition()


# --- blocks ------------------------------------------------------------------------------------
class SubjectSelect(ChooserSelect):
    """The subjects, grouped (questions, the application, each register), each option
    carrying its kind and answers for the browser (which operators and values fit)."""

    def __init__(self, subjects):
        self.by_var = {subject.var: subject for subject in subjects}
        grouped = defaultdict(list)
        for subject in subjects:
            grouped[subject.group].append((subject.var, subject.label))
        super().__init__(choices=list(grouped.items()), missing="missing")

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        subject = self.by_var.get(value)
        if subject is not None:
            option["attrs"]["data-kind"] = subject.kind
            option["attrs"]["data-answers"] = json.dumps([list(a) for a in subject.answers],
                                                         ensure_ascii=False)
        return option


class ChosenBlock(blocks.FieldBlock):
    """A value chosen from a list made for this form only (not a model's field: no migration
    ever sees it); any text is accepted here, the rule's validation says what does not fit."""

    def __init__(self, widget, required=True, help_text=None, **kwargs):
        self.field = forms.CharField(required=required, help_text=help_text, max_length=200,
                                     widget=widget)
        super().__init__(**kwargs)


class RuleBlock(blocks.StructBlock):
    """One rule in the builder's terms; written as JSON Logic when cleaned."""

    def __init__(self, local_blocks=None, catalogue=None, **kwargs):
        self.catalogue = catalogue or {}
        super().__init__(local_blocks, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            builder.to_rule(built_value(value), self.catalogue)
        except builder.CannotWrite as exc:
            raise rule_error(exc.args[0]) from exc
        return value


class JsonRuleBlock(blocks.StructBlock):
    """A rule the builder cannot say, as its JSON."""

    def clean(self, value):
        value = super().clean(value)
        try:
            rule = json.loads(value["rule"])
        except ValueError as exc:
            raise StructBlockValidationError(block_errors={"rule": ValidationError(
                _("This is not valid JSON (%(error)s).") % {"error": exc})}) from exc
        if not isinstance(rule, dict):
            raise StructBlockValidationError(block_errors={"rule": ValidationError(
                _('A rule is one JSON object: {"name": ..., "when": ..., "then": ...}.'))})
        return value


def rule_error(problems):
    """The builder's problems [(condition index or None, part, message)] on the rule."""
    conditions, whole = {}, []
    for index, part, message in problems:
        if index is None:
            whole.append(message)
        else:
            conditions[index] = StructBlockValidationError(
                block_errors={part: ValidationError(message)})
    errors = {"conditions": ListBlockValidationError(block_errors=conditions,
                                                     non_block_errors=whole)}
    return StructBlockValidationError(block_errors=errors)


def built_value(value):
    return {"name": value.get("name"), "match": value.get("match"),
            "conditions": [dict(condition) for condition in value.get("conditions") or []],
            "then": value.get("then"), "group": value.get("group")}


def rules_block(context):
    """The builder's StreamBlock for one form (its lists are the service's own)."""
    catalogue = {subject.var: subject for subject in context.subjects}
    condition = blocks.StructBlock([
        ("subject", ChosenBlock(SubjectSelect(context.subjects), label=_("When"))),
        ("operator", blocks.ChoiceBlock(choices=list(builder.OPERATOR_LABELS.items()),
                                        default="eq", label=_("Condition"))),
        ("answer", ChosenBlock(AnswerInput(
            question_field="subject", op_field="operator", ops=builder.KIND_OPERATORS,
            op_labels=builder.KIND_LABELS, source="subject-options"), required=False,
            label=_("Value"), help_text=_("A number like 3 or 2.5, a date like 31.03.2026, "
                                          "or one of the answers."))),
    ], label=_("Condition"), icon="help")
    rule = RuleBlock([
        ("name", blocks.CharBlock(max_length=200, label=_("Rule name"),
                                  help_text=_("Shown in the case history."))),
        ("match", blocks.ChoiceBlock(choices=[("all", _("all the conditions hold (and)")),
                                              ("any", _("any condition holds (or)"))],
                                     default="all", label=_("Applies when"))),
        ("conditions", blocks.ListBlock(condition, min_num=1, label=_("Conditions"))),
        ("then", ChosenBlock(ChooserSelect(choices=list(context.steps)), label=_("Then"))),
        ("group", ChosenBlock(ChooserSelect(choices=list(context.groups), missing="no_group",
                                            shown_when=("then", "route")),
                              required=False, label=_("Staff group"),
                              help_text=_("For “Route to a staff group”: the group whose "
                                          "inbox the case goes to."))),
    ], catalogue=catalogue, label=_("Rule"), icon="cogs")
    expert = JsonRuleBlock([
        ("rule", blocks.TextBlock(rows=8, label=_("The rule as JSON"), help_text=_(
            '{"name": ..., "when": JSON Logic, "then": a step or "route", "group": ...}; '
            "see docs/cases.md."))),
    ], label=_("Rule as JSON (for experts)"), icon="code")
    stream = blocks.StreamBlock([("rule", rule), ("json", expert)], required=False)
    # Made for one form, never previewed: not kept in Wagtail's registry of block definitions
    # (which would otherwise grow with every form shown).
    _forget(stream)
    return stream


def _forget(block):
    Block.definition_registry.pop(block.definition_prefix, None)
    for child in getattr(block, "child_blocks", {}).values():
        _forget(child)
    if isinstance(block, blocks.ListBlock):
        _forget(block.child_block)


def stream_data(rules, catalogue):
    """The builder's raw StreamField data for a list of JSON rules."""
    if not isinstance(rules, list):
        return [{"type": "json", "value": {"rule": json.dumps(rules, ensure_ascii=False)}}]
    data = []
    for rule in rules:
        built = builder.to_builder(rule, catalogue)
        if built is None:
            data.append({"type": "json", "value": {
                "rule": json.dumps(rule, ensure_ascii=False, indent=2)}})
        else:
            data.append({"type": "rule", "value": built})
    return data


def rules_from_stream(stream, catalogue):
    """The JSON rules a (cleaned) builder stream says."""
    found = []
    for child in stream:
        if child.block_type == "json":
            found.append(json.loads(child.value["rule"]))
        else:
            found.append(builder.to_rule(built_value(child.value), catalogue))
    return found


class RulesField(BlockField):
    """The rules builder as a form field for a JSON list of rules: shows the list as blocks,
    cleans the blocks into the list."""

    def __init__(self, *, context, **kwargs):
        self.catalogue = {subject.var: subject for subject in context.subjects}
        super().__init__(block=rules_block(context), **kwargs)

    def prepare_value(self, value):
        if isinstance(value, StreamValue):
            return value
        return self.block.to_python(stream_data(value if value is not None else [],
                                                self.catalogue))

    def clean(self, value):
        self.cleaned_stream = super().clean(value)
        return rules_from_stream(self.cleaned_stream, self.catalogue)

    def has_changed(self, initial, data):
        try:
            return rules_from_stream(self.block.clean(data), self.catalogue) != (initial or [])
        except (ValidationError, builder.CannotWrite, ValueError):
            return True


#: Where a problem of a rule (logic.problems) is shown on a builder block.
PARTS = {"name": "name", "then": "then", "group": "group", "when": None}


def located_errors(problems, stream):
    """logic.problems placed on the rule blocks they are about (the expert's JSON block
    takes all of its rule's)."""
    by_rule = defaultdict(lambda: defaultdict(list))
    whole = []
    kinds = [child.block_type for child in stream]
    for position, part, message in problems:
        index = position - 1
        if index >= len(kinds):
            whole.append(message)
            continue
        target = "rule" if kinds[index] == "json" else PARTS.get(part)
        by_rule[index][target].append(message)
    return StreamBlockValidationError(
        block_errors={index: StructBlockValidationError(
            block_errors={part: ValidationError(messages)
                          for part, messages in parts.items() if part},
            non_block_errors=parts.get(None))
            for index, parts in by_rule.items()},
        non_block_errors=whole)


class RulesBuilderFormMixin:
    """An admin form mixin: the model's `rules` edited with the builder, and the rule
    problems the model finds (a question removed from the form, a step the workflow no
    longer allows) shown on the rule they are about."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "rules" in self.fields:
            original = self.fields["rules"]
            self.fields["rules"] = RulesField(
                context=context_for(self.instance), required=False, label=original.label,
                help_text=_("Tried in order when an application is submitted; the first "
                            "whose conditions hold decides. The lists offer the saved form's "
                            "questions: save the service to use a question just added."))

    def _post_clean(self):
        super()._post_clean()
        errors = self._errors.get("rules")
        if not errors:
            return
        data = errors.as_data()
        own = [error for error in data if isinstance(error, StreamBlockValidationError)]
        if own:  # the builder's own: the model's would be about the rules as they were
            self._errors["rules"] = self.error_class(own[:1])
            return
        instance = self.instance
        looked_up, _problems = registers.check_lookups(instance.lookups, instance.spec)
        problems = logic.problems(instance.rules, instance.spec,
                                  instance.workflow_definition(), registers=looked_up) \
            if isinstance(instance.rules, list) else []
        stream = getattr(self.fields["rules"], "cleaned_stream", None)
        if problems and stream is not None:
            self._errors["rules"] = self.error_class([located_errors(problems, stream)])
