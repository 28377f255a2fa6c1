"""What an API client may do: the scopes its administrator grants (ApiClient.scopes)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    READ_CATALOGUE = "catalogue:read", _("Read the service catalogue (also open without a key)")
    SUBMIT_APPLICATIONS = "applications:submit", _("Submit applications to online services")
    READ_OWN_SUBMISSIONS = "applications:read", _("Read the status of its own applications")
    CASE_WORK = "cases:work", _("Staff case work as its service account")
