"""Model fields for references into the national registers (public schema)."""

from django import forms
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import get_language

from tenants import registers


def _choices(register, blank=()):
    """Choices read from the live register, in the editor's language, when the form is built."""
    return lambda: list(blank) + registers.choices(register, (get_language() or "ru")[:2])


class RegisterCodesField(ArrayField):
    """A list of register codes (e.g. life events), chosen from the live national register."""

    def __init__(self, register, **kwargs):
        self.register = register
        kwargs.setdefault("base_field", models.CharField(max_length=64))
        kwargs.setdefault("default", list)
        kwargs.setdefault("blank", True)
        super().__init__(**kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("base_field", None)
        kwargs["register"] = self.register
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        return forms.TypedMultipleChoiceField(
            choices=_choices(self.register),
            required=not self.blank, widget=forms.CheckboxSelectMultiple,
            label=kwargs.get("label") or self.verbose_name.capitalize(),
            help_text=self.help_text,
        )


class RegisterCodeField(models.CharField):
    """One register code (e.g. the service category)."""

    def __init__(self, register, **kwargs):
        self.register = register
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["register"] = self.register
        return name, path, args, kwargs

    def formfield(self, **kwargs):
        return forms.TypedChoiceField(
            choices=_choices(self.register, [("", "---------")] if self.blank else []),
            required=not self.blank,
            label=kwargs.get("label") or self.verbose_name.capitalize(),
            help_text=self.help_text,
        )
