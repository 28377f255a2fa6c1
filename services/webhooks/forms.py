"""The administrator's form for a subscription (the secret is never a field: it is made,
shown once, and rotated)."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from ..api.models import ApiClient
from ..api.scopes import Scope
from . import targets
from .events import EventType
from .models import Subscription

RECEIVING_SCOPES = (Scope.READ_OWN_SUBMISSIONS, Scope.CASE_WORK)


class SubscriptionForm(forms.ModelForm):
    target_url = forms.CharField(
        label=_("Target URL"), max_length=targets.MAX_LENGTH,
        help_text=_("An https:// address on the public internet. Every delivery is a POST "
                    "signed with the subscription's secret."))
    event_types = forms.MultipleChoiceField(
        label=_("Events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple,
        help_text=_("A client that submitted a case gets its public events; a staff system "
                    "(scope “cases:work”) gets every event of the cases its service account "
                    "may see."))

    class Meta:
        model = Subscription
        fields = ["client", "target_url", "event_types", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = ApiClient.objects.order_by("name")
        if self.instance.pk:
            self.fields["client"].disabled = True

    def clean_target_url(self):
        url = self.cleaned_data["target_url"].strip()
        targets.check(url, resolve=True)
        return url

    def clean_client(self):
        client = self.cleaned_data["client"]
        if not any(client.has_scope(scope) for scope in RECEIVING_SCOPES):
            raise ValidationError(_(
                "This client has neither the scope “%(read)s” nor “%(work)s”, so it would "
                "receive no events. Give it one of them first.") % {
                    "read": Scope.READ_OWN_SUBMISSIONS.value, "work": Scope.CASE_WORK.value})
        return client
