"""Masking the secrets of delivered messages: a tracking code must not outlive its delivery in
the stored copy of a message. Used by the delivery task (right after sending) and by the
daily clean-up (services/applications/cleanup.py) for anything that was missed."""

from django.utils.module_loading import import_string

from .choices import MessageKind, Status
from .models import Message

#: What a secret reads as in a stored message once it has been delivered.
REDACTED = "••••••"
#: Kinds whose text carries a secret that must not outlive delivery, each with the function
#: that returns the secrets found in one message (a dotted path, imported when first used: the
#: app that makes the secret knows how to recognise it; notifications imports none of them).
SECRET_FINDERS: dict[str, str] = {
    MessageKind.TRACKING_CODE: "services.applications.tracking.codes_in_message",
}


def redact_finished(messages) -> int:
    """Mask the secrets of sent and failed messages among `messages` (a Message QuerySet) in
    their stored subject, body and last error; return how many messages were changed.

    Pending messages are skipped: a retry must still send the secret. Safe to run twice and
    alongside deliveries: each row is only changed if its text is still what was read.
    """
    changed = 0
    finished = (messages.filter(key__in=list(SECRET_FINDERS)).exclude(status=Status.PENDING)
                .only("pk", "key", "topic", "subject", "body", "last_error"))
    for message in finished:
        secrets = [secret for secret in _secret_finder(message.key)(message) if secret]
        if not secrets:
            continue
        masked = {field: _mask(getattr(message, field), secrets)
                  for field in ("subject", "body", "last_error")}
        if all(masked[field] == getattr(message, field) for field in masked):
            continue  # masked already
        changed += (Message.objects.filter(pk=message.pk, subject=message.subject,
                                           body=message.body, last_error=message.last_error)
                    .exclude(status=Status.PENDING).update(**masked))
    return changed


def _secret_finder(key: str):
    return import_string(SECRET_FINDERS[key])


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
