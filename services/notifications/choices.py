"""The fixed vocabularies of notifications: message kinds, channels, delivery states."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageKind(models.TextChoices):
    """What a message is about. Each kind declares its placeholders (placeholders.py) and ships
    default texts (defaults.py); a tenant may override any of them."""

    APPLICATION_RECEIVED = "application_received", _("Application received")
    TRACKING_CODE = "tracking_code", _("Tracking code")
    STATUS_CHANGED = "status_changed", _("Status changed")
    MORE_INFORMATION_REQUESTED = "more_information_requested", _("More information requested")
    DECISION_MADE = "decision_made", _("Decision made")
    PAYMENT_RECEIVED = "payment_received", _("Payment received")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
