"""The "Online services" settings form: the tenant's case reference prefix, which lives on
the tenant's row in the public schema (unique across the platform), not in this schema."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from ..cases import references


class ReferencePrefixForm(WagtailAdminModelForm):
    reference_prefix = forms.CharField(
        label=_("reference prefix"), max_length=5,
        help_text=_("Starts every case reference, e.g. MSK in MSK-2026-000123. Unique across "
                    "the platform; it can be changed until the first application is sent."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["reference_prefix"]
        field.initial = references.reference_prefix()
        if references.references_issued():
            field.disabled = True
            field.help_text = _("Starts every case reference, e.g. MSK in MSK-2026-000123. "
                                "References have been given out with it, so it can no longer "
                                "change.")

    def clean(self):
        cleaned = super().clean()
        prefix = cleaned.get("reference_prefix")
        if prefix and not self.fields["reference_prefix"].disabled and not self.errors:
            # Claimed here rather than in save(): the unique constraint settles two tenants
            # asking for one prefix at once, and the one refused must see why on this form.
            try:
                cleaned["reference_prefix"] = references.change_reference_prefix(prefix)
            except ValidationError as exc:
                self.add_error("reference_prefix", exc)
        return cleaned
