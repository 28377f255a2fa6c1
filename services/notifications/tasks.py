"""Notification tasks; each runs inside one tenant's schema. `deliver` lives beside the
sending code (delivery.py), where the outbox queues it from."""

from celery import shared_task
from django.db import connection

from .delivery import deliver, deliver_all
from .outbox import RESEND_BATCH, requeue_due

__all__ = ["deliver", "deliver_all", "resend_pending"]


@shared_task(name="notifications.resend_pending", ignore_result=True)
def resend_pending(limit: int = RESEND_BATCH) -> int:
    """Queue again pending messages that are due: never queued (broker was down), waiting
    for a retry, or queued but lost. Runs every minute for every tenant (beat fan-out)."""
    return requeue_due(connection.tenant, limit)
