"""The administrator's forms for API clients and key rotation (services/api/admin_views.py)."""

import datetime

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from tenants import staff

from .clients import DEFAULT_OVERLAP, case_work_groups
from .models import ApiClient
from .scopes import Scope

#: The highest limit an administrator may set (the tenant's own limit still applies above it).
MAX_RATE_PER_MINUTE = 100_000


class GroupChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return staff.group_label(obj.name)


class ApiClientForm(forms.Form):
    name = forms.CharField(
        label=_("Name"), max_length=120,
        help_text=_("Who calls the API, as your colleagues know them, e.g. “МФЦ: приём "
                    "заявлений”."),
        error_messages={"required": _("Enter the client's name.")})
    description = forms.CharField(
        label=_("Description"), max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the client does with the API, and anything the next administrator "
                    "should know."))
    contact_email = forms.EmailField(
        label=_("Contact e-mail"), required=False,
        help_text=_("Whom to tell about a new key or a problem with their calls."),
        error_messages={"invalid": _("Enter an e-mail address like name@example.ru.")})
    scopes = forms.MultipleChoiceField(
        label=_("What the client may do"), choices=Scope.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Reading the public catalogue needs no scope; every other call needs the "
                    "scope for it."))
    rate_per_minute = forms.IntegerField(
        label=_("Calls per minute"), min_value=1, max_value=MAX_RATE_PER_MINUTE, initial=600,
        help_text=_("Beyond this the client is answered 429 with Retry-After until the next "
                    "minute."),
        error_messages={"required": _("Enter how many calls a minute the client may make."),
                        "invalid": _("Enter a whole number, like 600.")})
    groups = GroupChoiceField(
        label=_("Case-work groups of its service account"), queryset=Group.objects.none(),
        required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Only with staff case work: the client takes exactly the transitions "
                    "these groups may take."))

    def __init__(self, *args, instance: ApiClient | None = None, **kwargs):
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            groups = (list(instance.service_user.groups.all()) if instance.service_user_id
                      else [])
            kwargs["initial"] = {
                "name": instance.name, "description": instance.description,
                "contact_email": instance.contact_email, "scopes": instance.scopes,
                "rate_per_minute": instance.rate_per_minute, "groups": groups}
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = Group.objects.filter(
            pk__in=[group.pk for group in case_work_groups()]).order_by("name")

    def clean_name(self):
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError(_("Enter the client's name."))
        taken = ApiClient.objects.filter(name__iexact=name)
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(
                _("Another client is called “%(name)s”: choose a name people can tell "
                  "apart.") % {"name": name})
        return name

    def clean(self):
        cleaned = super().clean()
        if Scope.CASE_WORK in (cleaned.get("scopes") or []) and not cleaned.get("groups"):
            self.add_error("groups", _("Staff case work needs at least one case-work group "
                                       "for the service account."))
        return cleaned


OVERLAP_CHOICES = [
    (0, _("None: the old key stops now")),
    (3600, _("1 hour")),
    (6 * 3600, _("6 hours")),
    (24 * 3600, _("24 hours")),
    (3 * 86400, _("3 days")),
    (7 * 86400, _("7 days")),
    (30 * 86400, _("30 days")),
]


class RotateForm(forms.Form):
    overlap = forms.TypedChoiceField(
        label=_("How long the old key keeps working"), choices=OVERLAP_CHOICES, coerce=int,
        initial=int(DEFAULT_OVERLAP.total_seconds()),
        help_text=_("Time for the client to switch to the new key; then the old key expires."),
        error_messages={"invalid_choice": _("Choose one of the periods listed.")})

    @property
    def overlap_delta(self) -> datetime.timedelta:
        return datetime.timedelta(seconds=self.cleaned_data["overlap"])
