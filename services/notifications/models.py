"""Notification templates (editable per tenant) and the messages sent from them (the outbox).

Both live in each tenant's schema.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, HelpPanel

from . import placeholders
from .choices import Channel, MessageKind, Status, channels_for
from .query import MessageQuerySet
from .recipients import normalise_recipient

#: Longest SMS template text editors may save (before placeholders are filled in). One SMS
#: part holds 70 Cyrillic or 160 latin characters; long texts cost several parts.
SMS_TEMPLATE_MAX_LENGTH = 320


def _placeholder_help() -> str:
    rows = format_html_join(
        "", "<li><strong>{}</strong>: {}</li>",
        ((MessageKind(kind).label, ", ".join(f"{{{name}}}" for name in names))
         for kind, names in placeholders.PLACEHOLDERS.items()),
    )
    return format_html(
        "<p>{}</p><ul>{}</ul>",
        _("Placeholders are names in braces, filled in when the message is sent. "
           "Each kind of message can use these (write {{ and }} for a literal brace):"),
        rows,
    )


class NotificationTemplate(models.Model):
    """This tenant's own wording of one kind of message, for one channel and language.

    Without one, the platform's default text is used (defaults.py). Text may contain the
    kind's `{placeholders}` and nothing else; a template that uses an unknown placeholder or
    has a broken brace cannot be saved.
    """

    key = models.CharField(_("kind of message"), max_length=40, choices=MessageKind.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(
        _("subject"), max_length=200, blank=True,
        help_text=_("E-mail only; leave empty for SMS."),
    )
    body = models.TextField(
        _("text"),
        help_text=_("Placeholders in braces, for example {reference}. Keep SMS texts short."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    panels = [
        FieldRowPanel([FieldPanel("key"), FieldPanel("channel"), FieldPanel("language")]),
        FieldPanel("subject"),
        FieldPanel("body"),
        HelpPanel(content=lazy(_placeholder_help, str)(), heading=_("Placeholders")),
    ]

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        ordering = ["key", "channel", "language"]
        constraints = [
            models.UniqueConstraint(fields=["key", "channel", "language"],
                                    name="notifications_template_unique"),
        ]

    def __str__(self):
        return f"{self.get_key_display()} · {self.get_channel_display()} · {self.language}"

    def clean(self):
        errors = {}
        if self.key in placeholders.PLACEHOLDERS:
            for field in ("subject", "body"):
                try:
                    placeholders.check(getattr(self, field) or "", self.key)
                except placeholders.PlaceholderError as exc:
                    errors[field] = str(exc)
        if self.key in MessageKind.values and self.channel in Channel.values and \
                self.channel not in channels_for(self.key):
            errors["channel"] = _("“%(kind)s” messages are only sent by %(channels)s.") % {
                "kind": MessageKind(self.key).label,
                "channels": ", ".join(str(Channel(c).label) for c in channels_for(self.key))}
        if self.channel == Channel.EMAIL and not (self.subject or "").strip():
            errors.setdefault("subject", _("An e-mail needs a subject."))
        if self.channel == Channel.SMS and (self.subject or "").strip():
            errors.setdefault("subject", _("SMS messages have no subject: leave it empty."))
        if "\n" in (self.subject or "") or "\r" in (self.subject or ""):
            errors.setdefault("subject", _("The subject must be a single line."))
        if self.channel == Channel.SMS and len(self.body or "") > SMS_TEMPLATE_MAX_LENGTH:
            errors.setdefault("body", _(
                "An SMS text may be at most %(max)s characters (it has %(length)s)."
            ) % {"max": SMS_TEMPLATE_MAX_LENGTH, "length": len(self.body)})
        if errors:
            raise ValidationError(errors)


class Message(models.Model):
    """One message to one recipient: the outbox row that is sent, retried and kept as record.

    Created pending in the caller's transaction (services.notifications.api.notify), sent by
    the `notifications.deliver` task once that transaction commits, re-queued by
    `notifications.resend_pending` while still pending. `topic` finds the messages of a case
    (e.g. its reference) and holds no other personal data.
    """

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254,
                                 help_text=_("E-mail address or phone number (+7...)."))
    key = models.CharField(_("kind of message"), max_length=40, choices=MessageKind.choices)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    body = models.TextField(_("text"))
    topic = models.CharField(_("topic"), max_length=64, blank=True,
                             help_text=_("What the message is about, e.g. a case reference."))
    status = models.CharField(_("status"), max_length=8, choices=Status.choices,
                              default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255,
                                           blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"],
                         name="notifications_msg_due_idx"),
            models.Index(fields=["topic", "created_at"], name="notifications_msg_topic_idx"),
        ]

    def __str__(self):
        return f"{self.get_key_display()} · {self.get_channel_display()} #{self.pk}"

    def clean(self):
        try:
            self.recipient = normalise_recipient(self.channel, self.recipient)
        except ValidationError as exc:
            raise ValidationError({"recipient": exc}) from None
        except ValueError:
            pass  # unknown channel: the channel field's own validation reports it
