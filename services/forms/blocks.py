"""The form builder editors use in the admin: one StreamField block per question type.

`spec_from_stream()` turns what the editor built into a plain spec (services/forms/spec.py),
which is what gets validated, versioned and rendered.
"""

from anyascii import anyascii
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from . import national_id
from . import spec as formspec


class QuestionBlock(blocks.StructBlock):
    label = blocks.CharBlock(max_length=200, label=_("Question"))
    name = blocks.RegexBlock(
        regex=formspec.NAME_RE.pattern, required=False, max_length=40, label=_("Field name"),
        help_text=_("Letters a-z, digits and _. Left empty, it is made from the question."),
        error_messages={"invalid": _("Use only a-z, 0-9 and _, starting with a letter.")})
    help_text = blocks.CharBlock(required=False, max_length=300, label=_("Hint"))
    required = blocks.BooleanBlock(required=False, default=True, label=_("Required"))
    show_if_field = blocks.CharBlock(
        required=False, max_length=40, label=_("Only ask when question"),
        help_text=_("Field name of an earlier choice or yes/no question."))
    show_if_value = blocks.CharBlock(required=False, max_length=200, label=_("has the answer"),
                                     help_text=_("For yes/no questions: yes or no."))

    #: Extra option names copied into the spec as they are.
    options = ()

    def to_spec(self, kind, value):
        name = value.get("name") or slugify_name(value["label"])
        spec = {"type": kind, "name": name, "label": value["label"],
                "help_text": value.get("help_text") or "", "required": bool(value.get("required"))}
        if value.get("show_if_field"):
            spec["show_if"] = {"field": value["show_if_field"],
                               "value": value.get("show_if_value") or ""}
        for option in self.options:
            option_value = value.get(option)
            if option_value not in (None, "", []):
                spec[option] = list(option_value) if option == "choices" or \
                    option == "file_kinds" else option_value
        return spec


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

    def to_spec(self, kind, value):
        spec = super().to_spec(kind, value)
        for key in ("min_value", "max_value"):
            if key in spec:
                spec[key] = str(spec[key])
        return spec


class DateQuestion(QuestionBlock):
    when = blocks.ChoiceBlock(choices=[("any", _("Any date")), ("past", _("Today or earlier")),
                                       ("future", _("Today or later"))], default="any",
                              label=_("Allowed dates"))
    options = ("when",)


class ChoiceQuestion(QuestionBlock):
    choices = blocks.ListBlock(blocks.CharBlock(max_length=200), label=_("Answers"))
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
    return [child.block.to_spec(child.block_type, child.value) for child in stream]


def stream_data_from_spec(spec):
    """The form builder's raw StreamField data for a spec (demo content, tests, imports)."""
    data = []
    for field in spec:
        value = {"label": field["label"], "name": field["name"],
                 "help_text": field.get("help_text", ""), "required": field.get("required", True)}
        if field.get("show_if"):
            value["show_if_field"] = field["show_if"]["field"]
            value["show_if_value"] = field["show_if"]["value"]
        for option in BLOCK_TYPES[field["type"]].options:
            if option in field:
                value[option] = field[option]
        data.append({"type": field["type"], "value": value})
    return data
