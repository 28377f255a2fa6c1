"""Notification tasks; each runs inside one tenant's schema."""

import logging

from celery import shared_task
from django.db import connection, transaction

from .choices import Status
from .delivery import deliver_message
from .models import Message
from .outbox import RESEND_BATCH, requeue_due

logger = logging.getLogger(__name__)


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


def _redact(message_id: int) -> None:
    from .api import redact_finished

    # In a savepoint, and never raised: a masking failure must not undo "sent" (the message
    # would go out again); the daily sweep masks it instead.
    try:
        with transaction.atomic():
            redact_finished(Message.objects.filter(pk=message_id))
    except Exception:  # noqa: BLE001
        logger.exception("Notification %s was delivered but its secrets could not be masked "
                         "in %s; services.clean_up_personal_data will try again",
                         message_id, connection.schema_name)


@shared_task(name="notifications.resend_pending", ignore_result=True)
def resend_pending(limit: int = RESEND_BATCH) -> int:
    """Queue again pending messages that are due: never queued (broker was down), waiting
    for a retry, or queued but lost. Runs every minute for every tenant (beat fan-out)."""
    return requeue_due(connection.tenant, limit)
