"""The questionnaire's form: one per manual indicator, prefixed by its code, so a dimension's
page is a plain HTML form of radio buttons and text areas that works without JavaScript."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from .framework import Indicator, Model, text

MAX_LINKS = 10
MAX_LINK_LENGTH = 500
MAX_JUSTIFICATION = 4000
NUL_MESSAGE = _("Remove the invisible control characters (they cannot be stored).")


def prefix(indicator: Indicator) -> str:
    return indicator.code.replace(".", "-")


class AnswerForm(forms.Form):
    level = forms.TypedChoiceField(
        label=_("Level"), required=False, coerce=int, empty_value=None,
        widget=forms.RadioSelect)
    justification = forms.CharField(
        label=_("Justification"), required=False, max_length=MAX_JUSTIFICATION,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Why this level: what exists, who decided it, since when."))
    evidence = forms.CharField(
        label=_("Evidence links"), required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Addresses of documents that show it, one a line, starting with https:// "
                    "or http://."))

    def __init__(self, *args, indicator: Indicator, model: Model, **kwargs):
        super().__init__(*args, prefix=prefix(indicator), **kwargs)
        self.indicator = indicator
        self.title = text(indicator.title)
        self.fields["level"].choices = [
            ("", _("Not assessed")),
            *((n, f"{n}. {model.level_name(n)}: {indicator.criteria(n)}") for n in range(1, 6))]

    def clean_justification(self) -> str:
        value = self.cleaned_data["justification"]
        if "\x00" in value:
            raise ValidationError(NUL_MESSAGE)
        return value.strip()

    def clean_evidence(self) -> list[str]:
        raw = self.cleaned_data["evidence"]
        if "\x00" in raw:
            raise ValidationError(NUL_MESSAGE)
        links = [line.strip() for line in raw.splitlines() if line.strip()]
        if len(links) > MAX_LINKS:
            raise ValidationError(_("Give at most %(n)s links.") % {"n": MAX_LINKS})
        validate = URLValidator(schemes=["http", "https"])
        for link in links:
            if len(link) > MAX_LINK_LENGTH:
                raise ValidationError(_("A link is longer than %(n)s characters: shorten it.")
                                      % {"n": MAX_LINK_LENGTH})
            try:
                validate(link)
            except ValidationError as error:
                raise ValidationError(
                    _("“%(link)s” is not a web address: enter one like "
                      "https://example.ru/document.pdf, one a line.") % {"link": link[:80]}
                ) from error
        return links


class ReturnForm(forms.Form):
    note = forms.CharField(label=_("What needs changing"), max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def clean_note(self) -> str:
        value = self.cleaned_data["note"]
        if "\x00" in value:
            raise ValidationError(NUL_MESSAGE)
        return value.strip()
