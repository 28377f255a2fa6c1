"""The form builder editors use in the admin: one StreamField block per question type.

`spec_from_stream()` turns what the editor built into a plain spec (services/forms/spec.py),
which is what gets validated, versioned and rendered. `FormBuilderBlock` is the builder as a
whole: it checks the form as the spec will be checked and shows each problem on the question
(and the part of it) where it was made.

A condition is chosen from lists: the question (one of those above, by its label), what to
compare (the operators that make sense for that question's type, services/forms/conditions.py)
and the answer (one of its answers for a choice or yes/no question). The question is stored as
its block's id, so renaming or moving it keeps the condition; conditions made before name
the question by its field name, which still works (and opens as the question it names).
"""

from collections import defaultdict

from anyascii import anyascii
from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.stream_block import StreamBlockValidationError
from wagtail.blocks.struct_block import StructBlockValidationError

from ..widgets import AnswerInput, ChooserSelect
from . import conditions, national_id
from . import spec as formspec


class QuestionChoiceBlock(blocks.FieldBlock):
    """The earlier question a condition depends on, chosen by its label from the questions
    above this one (the browser fills the list as the editor builds the form)."""

    def __init__(self, required=False, help_text=None, **kwargs):
        self.field = forms.CharField(required=required, help_text=help_text, max_length=64,
                                     widget=ChooserSelect(source="questions-above",
                                                         blank=_("Always ask")))
        super().__init__(**kwargs)


class ConditionAnswerBlock(blocks.FieldBlock):
    """The answer a condition compares with: one of the chosen question's answers, or a
    number or date typed for a number or date question."""

    def __init__(self, required=False, help_text=None, **kwargs):
        self.field = forms.CharField(
            required=required, help_text=help_text, max_length=200,
            widget=AnswerInput(question_field="show_if_field", op_field="show_if_op",
                               ops={kind: conditions.ops_for(kind)
                                    for kind in formspec.FIELD_TYPES},
                               op_labels=conditions.OP_LABELS, source="questions-above"))
        super().__init__(**kwargs)


class QuestionBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=200, label=_("Question"))
    name = blocks.RegexBlock(
        regex=formspec.NAME_RE.pattern, required=False, max_length=40, label=_("Field name"),
        help_text=_("Letters a-z, digits and _. Left empty, it is made from the question."),
        error_messages={"invalid": _("Use only a-z, 0-9 and _, starting with a letter.")})
    help_text = blocks.CharBlock(required=False, max_length=300, label=_("Hint"))
    required = blocks.BooleanBlock(required=False, default=True, label=_("Required"))
    show_if_field = QuestionChoiceBlock(
        label=_("Only ask when question"),
        help_text=_("One of the questions above. Leave empty to always ask this one."))
    show_if_op = blocks.ChoiceBlock(choices=list(conditions.OPS.items()), default="eq",
                                    label=_("Condition"))
    show_if_value = ConditionAnswerBlock(
        label=_("Answer"),
        help_text=_("For a choice or yes/no question, one of its answers; for a number or a "
                    "date, the value to compare with."))

    #: Extra option names copied into the spec as they are.
    options = ()

    def to_spec(self, kind, value, names=None):
        """The spec of this question; `names` maps the block ids of the form's questions to
        their field names (conditions refer to a question by its block id)."""
        name = question_name(value)
        spec = {"type": kind, "name": name, "label": value["label"],
                "help_text": value.get("help_text") or "", "required": bool(value.get("required"))}
        if value.get("show_if_field"):
            spec["show_if"] = condition_spec(value, names or {})
        for option in self.options:
            option_value = value.get(option)
            if option_value not in (None, "", []):
                spec[option] = list(option_value) if option == "choices" or \
                    option == "file_kinds" else option_value
        return spec


def condition_spec(value, names):
    reference = value["show_if_field"]
    op = value.get("show_if_op") or "eq"
    condition = {"field": names.get(reference, reference)}
    if op not in conditions.WITHOUT_VALUE:
        condition["value"] = value.get("show_if_value") or ""
    if op != "eq":
        condition["op"] = op
    return condition


def question_name(value):
    return value.get("name") or slugify_name(value["label"])


def slugify_name(label):
    name = slugify(anyascii(label)).replace("-", "_")[:40].strip("_")
    if not name or not name[0].isalpha():
        name = f"q_{name}"[:40]
    return name


class TextQuestion(QuestionBlock):
    min_length = blocks.IntegerBlock(required=False, min_value=0, label=_("Minimum length"))
    max_length = blocks.IntegerBlock(required=False, min_value=1, max_value=5000,
                                     label=_("Maximum length"))
    options = ("min_length", "max_length")


class NumberQuestion(QuestionBlock):
    min_value = blocks.DecimalBlock(required=False, label=_("Minimum"))
    max_value = blocks.DecimalBlock(required=False, label=_("Maximum"))
    decimal_places = blocks.IntegerBlock(required=False, min_value=0, max_value=4, default=0,
                                         label=_("Decimal places"))
    options = ("min_value", "max_value", "decimal_places")

    def to_spec(self, kind, value, names=None):
        spec = super().to_spec(kind, value, names)
        for key in ("min_value", "max_value"):
            if key in spec:
                spec[key] = str(spec[key])
        return spec


class DateQuestion(QuestionBlock):
    when = blocks.ChoiceBlock(choices=[("any", _("Any date")), ("past", _("Today or earlier")),
                                       ("future", _("Today or later"))], default="any",
                              label=_("Allowed dates"))
    options = ("when",)


class AnswerBlock(blocks.CharBlock):
    """One answer of a choice question. Wagtail shows a list's items without labels, so the
    input names itself for screen readers (WCAG 4.1.2; axe in tests/browser/test_builders.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.field.widget.attrs["aria-label"] = _("Answer")


class ChoiceQuestion(QuestionBlock):
    choices = blocks.ListBlock(AnswerBlock(max_length=200), label=_("Answers"))
    options = ("choices",)


class MultiChoiceQuestion(ChoiceQuestion):
    max_selections = blocks.IntegerBlock(required=False, min_value=1,
                                         label=_("At most this many answers"))
    options = ("choices", "max_selections")


class NationalIdQuestion(QuestionBlock):
    id_kind = blocks.ChoiceBlock(choices=list(national_id.KINDS.items()), default="snils",
                                 label=_("Identifier"))
    options = ("id_kind",)


class FileQuestion(QuestionBlock):
    file_kinds = blocks.MultipleChoiceBlock(
        choices=[(k, label) for k, (_mime, label) in formspec.FILE_KINDS.items()],
        default=formspec.DEFAULT_FILE_KINDS, label=_("Accepted file types"))
    max_size_mb = blocks.IntegerBlock(min_value=1, max_value=formspec.MAX_FILE_MB, default=10,
                                      label=_("Largest file (MB)"))
    options = ("file_kinds", "max_size_mb")


BLOCK_TYPES = {
    "text": TextQuestion, "long_text": TextQuestion, "number": NumberQuestion,
    "date": DateQuestion, "email": QuestionBlock, "phone": QuestionBlock,
    "choice": ChoiceQuestion, "multi_choice": MultiChoiceQuestion, "yes_no": QuestionBlock,
    "address": QuestionBlock, "national_id": NationalIdQuestion, "file": FileQuestion,
}


def form_blocks():
    return [(kind, BLOCK_TYPES[kind](label=formspec.FIELD_TYPES[kind]))
            for kind in formspec.FIELD_TYPES]


def spec_from_stream(stream):
    children = list(stream)
    names = {child.id: question_name(child.value) for child in children if child.id}
    return [child.block.to_spec(child.block_type, child.value, names) for child in children]


def stream_data_from_spec(spec):
    """The form builder's raw StreamField data for a spec (demo content, tests, imports)."""
    data = []
    for field in spec:
        value = {"label": field["label"], "name": field["name"],
                 "help_text": field.get("help_text", ""), "required": field.get("required", True)}
        if field.get("show_if"):
            value["show_if_field"] = field["show_if"]["field"]
            value["show_if_op"] = field["show_if"].get("op") or "eq"
            value["show_if_value"] = field["show_if"].get("value") or ""
        for option in BLOCK_TYPES[field["type"]].options:
            if option in field:
                value[option] = field[option]
        data.append({"type": field["type"], "value": value})
    return data


#: Where a problem of the spec (services/forms/spec.py spec_problems) is shown on a question.
PARTS = {"show_if.field": "show_if_field", "show_if.op": "show_if_op",
         "show_if.value": "show_if_value"}


class FormBuilderBlock(blocks.StreamBlock):
    """The whole form builder: the question blocks, checked together as the spec is, each
    problem shown on the question and the part of it where it was made (a condition on a
    question below, an answer the question does not have, limits that contradict)."""

    def __init__(self, local_blocks=None, **kwargs):
        super().__init__(local_blocks or form_blocks(), **kwargs)

    def get_form_state(self, value):
        state = super().get_form_state(value)
        # A condition that names its question (forms made before the lists, demo content)
        # opens as the question it names.
        ids = {question_name(child.value): child.id for child in value or () if child.id}
        for item in state:
            reference = item["value"].get("show_if_field")  # a list: a select's form state
            if reference and reference[0] in ids:
                item["value"]["show_if_field"] = [ids[reference[0]]]
        return state

    def clean(self, value):
        cleaned = super().clean(value)
        if self.is_deferred_validation:
            return cleaned  # a draft may be unfinished; publishing checks it
        problems = formspec.spec_problems(spec_from_stream(cleaned))
        if not problems:
            return cleaned
        by_block, non_block = defaultdict(lambda: defaultdict(list)), []
        for position, part, message in problems:
            if position is None:
                non_block.append(message)
                continue
            child = cleaned[position - 1]
            target = PARTS.get(part, part)
            if target == "name" and not child.value.get("name"):
                target = "label"  # the name is made from the question
            by_block[position - 1][target if target in child.block.child_blocks else None] \
                .append(message)
        raise StreamBlockValidationError(
            block_errors={index: StructBlockValidationError(
                block_errors={part: ValidationError(messages)
                              for part, messages in parts.items() if part},
                non_block_errors=parts.get(None))
                for index, parts in by_block.items()},
            non_block_errors=non_block)
