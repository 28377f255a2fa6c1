"""Sending one message through its channel, exactly once, with retries on transient errors."""

import logging
import smtplib
from datetime import timedelta
from email.utils import parseaddr

from celery import shared_task
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, make_msgid
from django.db import connection, transaction
from django.utils import timezone

from .choices import Channel, Status
from .models import Message
from .redaction import redact_finished
from .sms import PermanentDeliveryError, get_sms_backend

logger = logging.getLogger(__name__)

#: Attempts before a message is given up as failed. With the delays below the last attempt
#: comes about four hours after the first: long enough to ride out a gateway outage.
MAX_ATTEMPTS = 8


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 1, 2, 4, ... minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** (attempts - 1)))


def deliver_message(message_id: int) -> str:
    """Send message `message_id` if it is still pending; return what happened.

    The row is locked for the duration (SELECT ... FOR UPDATE SKIP LOCKED), so two workers
    given the same id never both send it; a message already sent or failed is left alone.
    Returns "sent", "pending" (will be retried), "failed", or "skipped".
    """
    with transaction.atomic():
        message = (Message.objects.select_for_update(skip_locked=True)
                   .filter(pk=message_id, status=Status.PENDING).first())
        if message is None:
            return "skipped"  # sent or failed already, being sent right now, or unknown
        message.attempts += 1
        now = timezone.now()
        try:
            provider_id = _send(message)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the message
            permanent = isinstance(exc, PermanentDeliveryError | BadHeaderError
                                   | smtplib.SMTPRecipientsRefused)
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if permanent or message.attempts >= MAX_ATTEMPTS:
                message.status = Status.FAILED
                logger.error("Notification %s failed for good after %s attempt(s): %s",
                             message.pk, message.attempts, type(exc).__name__)
            else:
                message.next_attempt_at = now + retry_delay(message.attempts)
                logger.warning("Notification %s: attempt %s failed (%s); retry at %s",
                               message.pk, message.attempts, type(exc).__name__,
                               message.next_attempt_at.isoformat())
        else:
            message.status = Status.SENT
            message.sent_at = now
            message.provider_message_id = (provider_id or "")[:255]
            message.last_error = ""
        message.save(update_fields=["status", "attempts", "last_error", "sent_at",
                                    "provider_message_id", "next_attempt_at"])
    return message.status


def _send(message: Message) -> str:
    if message.channel == Channel.EMAIL:
        return send_email(message)
    if message.channel == Channel.SMS:
        return get_sms_backend().send(message.recipient, message.body)
    raise PermanentDeliveryError(f"unknown channel {message.channel!r}")


def send_email(message: Message) -> str:
    """Send through Django's mail (whatever EMAIL_BACKEND is); return the Message-ID."""
    message_id = make_msgid(idstring=f"{connection.schema_name}.{message.pk}",
                            domain=settings.BASE_DOMAIN)
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=_from_address(),
        to=[message.recipient],
        headers={"Message-ID": message_id},
    )
    email.send(fail_silently=False)
    return message_id


def _from_address() -> str:
    """DEFAULT_FROM_EMAIL, shown under the tenant's name ("Рябиновка <no-reply@...>")."""
    display, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = getattr(connection.tenant, "name", "") or display
    if not name:
        return address
    # Left unencoded on purpose: Django encodes a non-ASCII display name when it builds the
    # message (email.utils.formataddr would encode it a second time).
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver(message_id: int) -> str:
    """Send one pending message (idempotent: a message already sent is not sent again).

    Once the provider has accepted it (or it failed for good), its secrets (a tracking code)
    are masked in the stored copy in the same transaction that records the outcome; a message
    left pending for a retry keeps them, so the retry sends the same text.
    """
    with transaction.atomic():
        outcome = deliver_message(message_id)
        if outcome in (Status.SENT, Status.FAILED):
            _redact(message_id)
    return outcome


@shared_task(name="notifications.deliver_all", ignore_result=True)
def deliver_all(message_ids: list[int]) -> list[str]:
    """`deliver` for each of `message_ids` in turn: the messages one event wrote together
    (a submission's e-mail and SMS receipts) are one task, one publish to the broker.

    Each message is sent and recorded in its own transaction, exactly as `deliver` does, so
    a task run again (a worker killed mid-way, the broker's redelivery) skips the ones sent
    already. An error of one (the database gone away) is logged and the others still go; the
    message it left pending is queued again by `notifications.resend_pending`.
    """
    outcomes = []
    for message_id in message_ids:
        try:
            outcomes.append(deliver(message_id))
        except Exception:
            logger.exception("Notification %s could not be delivered now in %s; "
                             "notifications.resend_pending will queue it again",
                             message_id, connection.schema_name)
            outcomes.append("error")
    return outcomes


def _redact(message_id: int) -> None:
    # In a savepoint, and never raised: a masking failure must not undo "sent" (the message
    # would go out again); the daily sweep masks it instead.
    try:
        with transaction.atomic():
            redact_finished(Message.objects.filter(pk=message_id))
    except Exception:
        logger.exception("Notification %s was delivered but its secrets could not be masked "
                         "in %s; services.clean_up_personal_data will try again",
                         message_id, connection.schema_name)
