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
    STAFF_ESCALATION = "staff_escalation", _("Deadlines need attention (staff)")
    WEBHOOK_DISABLED = "webhook_disabled", _("Webhook disabled after failures (administrators)")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


#: Kinds sent on some channels only (every other kind: every channel). Staff messages go by
#: e-mail: there is no phone number on record for staff.
KIND_CHANNELS: dict[str, tuple[str, ...]] = {
    MessageKind.STAFF_ESCALATION: (Channel.EMAIL,),
    MessageKind.WEBHOOK_DISABLED: (Channel.EMAIL,),
}


def channels_for(kind: str) -> tuple[str, ...]:
    """The channels a message of `kind` can be sent on (and a tenant can word it for)."""
    return KIND_CHANNELS.get(kind, tuple(Channel.values))
