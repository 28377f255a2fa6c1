"""Application forms as data: the editor-built form of a service, frozen in a version.

A *spec* is a list of field dicts, the same shape whether it comes from the admin's form
builder (services/forms/blocks.py) or a test:

    {"type": "choice", "name": "reason", "label": "...", "help_text": "...",
     "required": True, "show_if": {"field": "has_children", "value": "yes"},
     "choices": ["...", "..."], ...type options}

(a condition may also compare a number or a date, or ask whether an earlier question was
answered: services/forms/conditions.py)

`validate_spec()` refuses a spec that cannot work (duplicate names, a condition on a later or
unknown field, a value the controlling field cannot take, inconsistent limits), listing every
problem at once. `build_form()` turns a spec into a Django form whose cleaned data is already
JSON-ready (`to_answers()`), with conditional questions ignored when their condition is not met.
"""

import re
from datetime import date
from decimal import Decimal

import filetype
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from ..notifications.recipients import normalise_email, normalise_phone
from . import conditions, national_id

FIELD_TYPES = {
    "text": _("Text"),
    "long_text": _("Long text"),
    "number": _("Number"),
    "date": _("Date"),
    "email": _("Email address"),
    "phone": _("Phone number"),
    "choice": _("Choice (one)"),
    "multi_choice": _("Choice (several)"),
    "yes_no": _("Yes or no"),
    "address": _("Address"),
    "national_id": _("National identifier"),
    "file": _("File upload"),
}
YES_NO = (("yes", _("Yes")), ("no", _("No")))
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
PHONE_RE = r"^\+?[0-9][0-9 ()-]{6,18}[0-9]$"
#: What an applicant may upload, by the type sniffed from the bytes (never the name).
FILE_KINDS = {
    "pdf": ("application/pdf", "PDF"),
    "jpeg": ("image/jpeg", "JPEG"),
    "png": ("image/png", "PNG"),
}
DEFAULT_FILE_KINDS = ["pdf", "jpeg", "png"]
MAX_FILE_MB = 20
ADDRESS_PARTS = (("line1", _("Address line 1")), ("line2", _("Address line 2 (optional)")),
                 ("town", _("Town or city")), ("postcode", _("Postcode")))
#: What an unanswered required question says, by type: it names the question, so that an error
#: summary listing several reads as a list of what to do.
REQUIRED_MESSAGES = {
    "date": _("Enter a date in “%(label)s”."),
    "choice": _("Choose an answer to “%(label)s”."),
    "yes_no": _("Choose an answer to “%(label)s”."),
    "multi_choice": _("Choose at least one answer to “%(label)s”."),
    "address": _("Enter the address in “%(label)s”."),
    "file": _("Choose a file for “%(label)s”."),
}
FILL_IN = _("Fill in “%(label)s”.")


def _interpolate(template, values):
    return str(template) % values


#: Formatted when shown, in the language of the page then (forms are built before that).
interpolate_lazy = lazy(_interpolate, str)


def required_message(spec_field):
    """The message of a required question left unanswered, naming it by its label."""
    label = str(spec_field.get("label") or spec_field.get("name") or "").strip().rstrip(":")
    template = REQUIRED_MESSAGES.get(spec_field.get("type"), FILL_IN)
    return interpolate_lazy(template, {"label": label.strip()})


def validate_spec(spec):
    """Raise ValidationError listing everything wrong with a form spec."""
    errors = [message for _position, _part, message in spec_problems(spec)]
    if errors:
        raise ValidationError(errors)


def spec_problems(spec):
    """Everything wrong with a form spec, as (position, part, message): position counts
    questions from 1 (None for the form as a whole), part names what the message is about
    ("name", "label", a type option such as "choices", or "show_if.field", "show_if.op",
    "show_if.value" for the parts of a condition) so that an editor sees it there."""
    problems = []
    seen = {}
    labels = {f.get("name"): f.get("label") for f in spec if isinstance(f, dict)}
    if not spec:
        problems.append((None, None, _("Add at least one question.")))
    for position, field in enumerate(spec, start=1):
        kind = field.get("type")
        name = field.get("name", "")
        label = field.get("label") or name or str(position)
        where = _("Question %(n)s (%(label)s)") % {"n": position, "label": label}
        if kind not in FIELD_TYPES:
            problems.append((position, "type", _("%(where)s: unknown type “%(type)s”.")
                             % {"where": where, "type": kind}))
            continue
        if not NAME_RE.match(name or ""):
            problems.append((position, "name", _(
                "%(where)s: the name must start with a letter and use only a-z, 0-9 and _ "
                "(at most 40 characters).") % {"where": where}))
        elif name in seen or name in CONTACT_NAMES:
            problems.append((position, "name", _("%(where)s: the name “%(name)s” is used twice.")
                             % {"where": where, "name": name}))
        if not field.get("label"):
            problems.append((position, "label", _("%(where)s: give the question a label.")
                             % {"where": where}))
        problems.extend((position, part, message)
                        for part, message in _limit_problems(field, where))
        condition = field.get("show_if")
        if condition:
            problems.extend(
                (position, f"show_if.{part}", message) for part, message in
                conditions.problems(condition, seen.get(condition.get("field")), where,
                                    option_values, labels.get))
        if name:
            seen[name] = field
    return problems


def _limit_problems(field, where):
    """(part, message) for limits that contradict each other or cannot work."""
    kind = field["type"]
    errors = []

    def both(low, high):
        lo, hi = field.get(low), field.get(high)
        return lo is not None and hi is not None and lo != "" and hi != "" and lo > hi

    if kind in ("text", "long_text") and both("min_length", "max_length"):
        errors.append(("min_length", _("%(where)s: the minimum length is above the maximum.")
                       % {"where": where}))
    if kind == "number" and both("min_value", "max_value"):
        errors.append(("min_value", _("%(where)s: the minimum is above the maximum.")
                       % {"where": where}))
    if kind in ("choice", "multi_choice"):
        choices = [c for c in field.get("choices") or [] if c]
        if len(choices) < 2:
            errors.append(("choices", _("%(where)s: give at least two answers to choose from.")
                           % {"where": where}))
        if len(set(choices)) != len(choices):
            errors.append(("choices", _("%(where)s: an answer is listed twice.")
                           % {"where": where}))
        if kind == "multi_choice" and field.get("max_selections") and \
                field["max_selections"] > len(choices):
            errors.append(("max_selections", _("%(where)s: at most %(n)s answers can be chosen.")
                           % {"where": where, "n": len(choices)}))
    if kind == "file":
        kinds = field.get("file_kinds") or []
        if not kinds or any(k not in FILE_KINDS for k in kinds):
            errors.append(("file_kinds", _("%(where)s: choose which file types are accepted.")
                           % {"where": where}))
        size = field.get("max_size_mb") or 0
        if not 0 < size <= MAX_FILE_MB:
            errors.append(("max_size_mb", _(
                "%(where)s: the file size limit must be between 1 and %(max)s MB.")
                % {"where": where, "max": MAX_FILE_MB}))
    if kind == "national_id" and field.get("id_kind") not in national_id.KINDS:
        errors.append(("id_kind", _("%(where)s: choose which identifier is asked for.")
                       % {"where": where}))
    return errors


def option_values(field):
    if field["type"] == "yes_no":
        return ["yes", "no"]
    return [c for c in field.get("choices") or [] if c]


def is_shown(field, answers, by_name):
    """Whether a (possibly conditional) question applies given the raw answers so far."""
    condition = field.get("show_if")
    if not condition:
        return True
    source = by_name.get(condition["field"])
    if source is None or not is_shown(source, answers, by_name):
        return False
    return conditions.is_met(condition, source, answers.get(source["name"]))


# --- Contact details every application carries --------------------------------------------------
CONTACT_NAMES = ("applicant_name", "applicant_email", "applicant_phone")


class ContactMixin(forms.Form):
    """Who is applying and how to reach them: every form has it, first, so that receipts and
    tracking codes always have somewhere to go."""

    applicant_name = forms.CharField(label=_("Full name"), max_length=200, error_messages={
        "required": _("Enter your full name.")})
    applicant_email = forms.EmailField(
        label=_("Email address"), required=False, max_length=254,
        help_text=_("We send the receipt and the tracking codes here."))
    applicant_phone = forms.CharField(
        label=_("Mobile phone number"), required=False, max_length=24,
        help_text=_("With the country code, like +7 900 123 45 67. Give an email address, a "
                    "mobile number or both."))

    # Checked by the same rules the notification service applies when it sends, so that an
    # accepted application can always get its receipt.
    def clean_applicant_email(self):
        value = self.cleaned_data.get("applicant_email", "")
        return normalise_email(value) if value else ""

    def clean_applicant_phone(self):
        value = self.cleaned_data.get("applicant_phone", "")
        return normalise_phone(value) if value else ""

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("applicant_email") and not cleaned.get("applicant_phone") and \
                "applicant_email" not in self.errors and "applicant_phone" not in self.errors:
            self.add_error("applicant_email",
                           _("Give an email address or a mobile phone number so that we can "
                             "send you the reference and tracking codes."))
        return cleaned


# --- Runtime form ------------------------------------------------------------------------------
class AddressWidget(forms.MultiWidget):
    template_name = "services/widgets/address.html"

    def __init__(self, attrs=None):
        super().__init__([forms.TextInput(attrs={"autocomplete": f"address-line{i}"})
                          for i in (1, 2)] +
                         [forms.TextInput(attrs={"autocomplete": "address-level2"}),
                          forms.TextInput(attrs={"autocomplete": "postal-code",
                                                 "inputmode": "numeric"})], attrs)

    def decompress(self, value):
        if isinstance(value, dict):
            return [value.get(key, "") for key, _label in ADDRESS_PARTS]
        return ["", "", "", ""]


class AddressField(forms.MultiValueField):
    widget = AddressWidget

    def __init__(self, **kwargs):
        fields = [forms.CharField(max_length=200, required=False) for _ in ADDRESS_PARTS]
        super().__init__(fields=fields, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        if not data_list or not any(data_list):
            return None
        values = dict(zip([k for k, _l in ADDRESS_PARTS], data_list, strict=False))
        missing = [str(label) for key, label in ADDRESS_PARTS
                   if key != "line2" and not values.get(key)]
        if missing:
            raise ValidationError(_("Enter the %(parts)s.") % {"parts": ", ".join(missing)})
        if not re.fullmatch(r"[0-9]{6}", values["postcode"].replace(" ", "")):
            raise ValidationError(_("Enter a 6-digit postcode, like 101000."))
        return values


class UploadField(forms.FileField):
    """A file checked by what it is, not what it is called: size first, then the type sniffed
    from its first bytes."""

    def __init__(self, *, kinds, max_size_mb, **kwargs):
        self.kinds = list(kinds)
        self.max_bytes = int(max_size_mb) * 1024 * 1024
        super().__init__(**kwargs)
        accept = ",".join(FILE_KINDS[k][0] for k in self.kinds)
        self.widget.attrs.update({"accept": accept})

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload in (None, False) or not hasattr(upload, "read"):
            return upload
        names = ", ".join(FILE_KINDS[k][1] for k in self.kinds)
        if upload.size > self.max_bytes:
            raise ValidationError(_("The file must be smaller than %(mb)s MB.")
                                  % {"mb": self.max_bytes // (1024 * 1024)})
        if upload.size == 0:
            raise ValidationError(_("The selected file is empty."))
        upload.seek(0)
        head = upload.read(8192)
        upload.seek(0)
        sniffed = filetype.guess(head)
        allowed = {FILE_KINDS[k][0] for k in self.kinds}
        if sniffed is None or sniffed.mime not in allowed:
            raise ValidationError(_("The selected file must be a %(kinds)s.") % {"kinds": names})
        upload.sniffed_type = sniffed.mime
        upload.sniffed_extension = sniffed.extension
        return upload


def _django_field(spec_field):
    kind = spec_field["type"]
    common = {"label": spec_field["label"], "help_text": spec_field.get("help_text", ""),
              "required": bool(spec_field.get("required")),
              "error_messages": {"required": required_message(spec_field)}}
    if kind in ("text", "long_text"):
        widget = forms.Textarea(attrs={"rows": 5}) if kind == "long_text" else None
        default_max = 5000 if kind == "long_text" else 200
        return forms.CharField(max_length=spec_field.get("max_length") or default_max,
                               min_length=spec_field.get("min_length") or None,
                               widget=widget, **common)
    if kind == "number":
        return forms.DecimalField(min_value=_dec(spec_field.get("min_value")),
                                  max_value=_dec(spec_field.get("max_value")),
                                  decimal_places=spec_field.get("decimal_places", 0) or 0,
                                  max_digits=15, widget=forms.TextInput(
                                      attrs={"inputmode": "decimal"}), **common)
    if kind == "date":
        return DateField(when=spec_field.get("when", "any"), **common)
    if kind == "email":
        return forms.EmailField(max_length=254, widget=forms.EmailInput(
            attrs={"autocomplete": "email", "spellcheck": "false"}), **common)
    if kind == "phone":
        return forms.CharField(max_length=24, validators=[RegexValidator(
            PHONE_RE, _("Enter a phone number, like +7 900 123 45 67."))],
            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}), **common)
    if kind == "choice":
        return forms.ChoiceField(choices=[(c, c) for c in option_values(spec_field)],
                                 widget=forms.RadioSelect, **common)
    if kind == "multi_choice":
        return MultiChoiceField(choices=[(c, c) for c in option_values(spec_field)],
                                max_selections=spec_field.get("max_selections"), **common)
    if kind == "yes_no":
        return forms.ChoiceField(choices=YES_NO, widget=forms.RadioSelect, **common)
    if kind == "address":
        return AddressField(**common)
    if kind == "national_id":
        return NationalIdField(id_kind=spec_field["id_kind"], **common)
    if kind == "file":
        return UploadField(kinds=spec_field.get("file_kinds") or DEFAULT_FILE_KINDS,
                           max_size_mb=spec_field.get("max_size_mb") or 10, **common)
    raise ValueError(kind)


def _dec(value):
    return None if value in (None, "") else Decimal(str(value))


class DateField(forms.DateField):
    def __init__(self, *, when="any", **kwargs):
        self.when = when
        super().__init__(widget=forms.DateInput(attrs={"type": "date"}), **kwargs)

    def clean(self, value):
        result = super().clean(value)
        if result:
            today = date.today()
            if self.when == "past" and result > today:
                raise ValidationError(_("The date must be today or in the past."))
            if self.when == "future" and result < today:
                raise ValidationError(_("The date must be today or in the future."))
            if result.year < 1900:
                raise ValidationError(_("The year must be 1900 or later."))
        return result


class MultiChoiceField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def __init__(self, *, max_selections=None, **kwargs):
        self.max_selections = max_selections
        super().__init__(**kwargs)

    def validate(self, value):
        super().validate(value)
        if self.max_selections and len(value) > self.max_selections:
            raise ValidationError(_("Choose at most %(n)s answers.") % {"n": self.max_selections})


class NationalIdField(forms.CharField):
    def __init__(self, *, id_kind, **kwargs):
        self.id_kind = id_kind
        super().__init__(max_length=20, widget=forms.TextInput(
            attrs={"inputmode": "numeric", "spellcheck": "false"}), **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value:
            value = national_id.validate(self.id_kind, value)
        return value


class ApplicationForm(ContactMixin):
    """The form a citizen (or office staff on their behalf) fills in."""

    def __init__(self, spec, *args, kept_files=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spec = spec
        self.by_name = {f["name"]: f for f in spec}
        # Files uploaded on an earlier try stay; the applicant may replace them.
        self.kept_files = kept_files or {}
        for spec_field in spec:
            field = _django_field(spec_field)
            if spec_field["name"] in self.kept_files:
                field.required = False
            self.fields[spec_field["name"]] = field

    def raw_answers(self):
        if not self.is_bound:
            return {}
        answers = {}
        for name, field in self.fields.items():
            widget = field.widget
            answers[name] = widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
        return answers

    def full_clean(self):
        # Questions whose condition is not met are not asked: never required, never stored.
        raw = self.raw_answers()
        self.hidden_questions = {name for name, f in self.by_name.items()
                                 if not is_shown(f, raw, self.by_name)}
        for name in self.hidden_questions:
            self.fields[name].required = False
        super().full_clean()
        if hasattr(self, "cleaned_data"):
            for name in self.hidden_questions:
                self.cleaned_data.pop(name, None)

    def questions(self):
        """What the template needs for each question, in order."""
        items = []
        for name in self.fields:
            bound = self[name]
            spec_field = self.by_name.get(name) or {"type": _contact_type(name)}
            item = {"field": bound, "type": spec_field["type"], "spec": spec_field,
                    "kept": self.kept_files.get(name)}
            condition = spec_field.get("show_if")
            if condition:
                source = self.by_name[condition["field"]]
                value = condition.get("value", "")
                item["condition"] = {"field": condition["field"], "value": value,
                                     "op": condition.get("op") or "eq",
                                     "source_label": source["label"],
                                     "value_label": display(source, value)
                                     if source["type"] in conditions.LISTED else value,
                                     "hint": conditions.hint(condition, source, display)}
            if spec_field["type"] == "address":
                value = bound.value()
                if isinstance(value, dict) or value is None:
                    value = AddressWidget().decompress(value)
                item["parts"] = [{"name": f"{bound.html_name}_{i}", "id": f"{bound.auto_id}_{i}",
                                  "label": label, "value": value[i] if i < len(value) else "",
                                  "autocomplete": auto}
                                 for i, ((_key, label), auto) in enumerate(zip(
                                     ADDRESS_PARTS, ("address-line1", "address-line2",
                                                     "address-level2", "postal-code"),
                                     strict=True))]
            items.append(item)
        return items

    def error_list(self, *extra_forms):
        """(anchor id, message) pairs for the error summary, in question order. Each names
        its question: a message that does not already say which one is prefixed with its
        label ("Date of birth: Enter a valid date.")."""
        errors = []
        for form in (self, *[f for f in extra_forms if f is not None]):
            if not form.is_bound:
                continue
            for name, messages in form.errors.items():
                anchor = form[name].auto_id if name in form.fields else ""
                label = str(form.fields[name].label or "") if name in form.fields else ""
                if name in form.fields and isinstance(form.fields[name].widget, (
                        forms.RadioSelect, forms.CheckboxSelectMultiple, AddressWidget)):
                    anchor += "_0"  # the first input of the group
                errors.extend((anchor, message if not label or label in str(message) else
                               _("%(label)s: %(message)s") % {"label": label,
                                                              "message": message})
                              for message in messages)
        return errors


def _contact_type(name):
    return {"applicant_name": "text", "applicant_email": "email",
            "applicant_phone": "phone"}[name]


def to_json(value):
    """A cleaned value as stored in a submission's answers."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def display(spec_field, value):
    """A stored answer as the applicant and staff read it."""
    if value in (None, "", []):
        return ""
    kind = spec_field["type"]
    if kind == "yes_no":
        return str(dict(YES_NO).get(value, value))
    if kind == "multi_choice":
        return ", ".join(value)
    if kind == "address":
        return ", ".join(value.get(key) for key, _l in ADDRESS_PARTS if value.get(key))
    if kind == "date":
        return date.fromisoformat(value).strftime("%d.%m.%Y")
    if kind == "file":
        return value.get("name", "") if isinstance(value, dict) else str(value)
    return str(value)


def answer_rows(spec, answers, *, with_contact=False):
    """The answers of an application as rows to show (label, value as the applicant would
    read it), in the form's order; the contact details first when asked."""
    rows = []
    if with_contact:
        labels = ContactMixin.base_fields
        for name in CONTACT_NAMES:
            if answers.get(name):
                rows.append({"name": name, "label": labels[name].label, "value": answers[name]})
    for field in spec:
        if field["name"] in answers:
            rows.append({"name": field["name"], "label": field["label"],
                         "value": display(field, answers[field["name"]])})
    return rows
