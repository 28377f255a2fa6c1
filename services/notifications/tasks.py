"""Notification tasks; each runs inside one tenant's schema."""

from celery import shared_task
from django.db import connection

from .delivery import deliver_message
from .outbox import RESEND_BATCH, requeue_due


@shared_task(name="notifications.deliver", ignore_result=True)
def deliver(message_id: int) -> str:
    """Send one pending message (idempotent: a message already sent is not sent again)."""
    return deliver_message(message_id)


@shared_task(name="notifications.resend_pending", ignore_result=True)
def resend_pending(limit: int = RESEND_BATCH) -> int:
    """Queue again pending messages that are due: never queued (broker was down), waiting
    for a retry, or queued but lost. Runs every minute for every tenant (beat fan-out)."""
    return requeue_due(connection.tenant, limit)
