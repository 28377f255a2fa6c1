"""The webhook delivery task: takes a delivery id, runs in the delivery's tenant (the task
carries the schema: dgbox/celery.py), may run twice (delivery.attempt is idempotent), and
retries itself with Celery on the schedule of delivery.RETRY_SCHEDULE."""

from celery import shared_task
from django.db import transaction

from . import delivery


@shared_task(name="webhooks.deliver", bind=True, max_retries=None, ignore_result=True)
def deliver_webhook(self, delivery_id):
    """Make the due attempt of delivery `delivery_id`; on failure, schedule the next one."""
    outcome = delivery.attempt(delivery_id)
    if outcome.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.delivered


@shared_task(name="webhooks.resend_overdue", ignore_result=True)
def resend_overdue():
    """Queue again the pending deliveries whose attempt is long overdue: their task was lost
    (the broker was down after the case change, a worker died mid-attempt). Fanned out to
    every tenant by beat; a duplicate task for a delivery does nothing."""
    ids = delivery.overdue_ids()
    queue(ids)
    return len(ids)


def queue_on_commit(delivery_ids: list[int]) -> None:
    """Send the delivery task for each id once the transaction commits (robust: a broker
    outage is logged, never raised into the case change; the rows stay pending)."""
    ids = list(delivery_ids)
    if ids:
        transaction.on_commit(lambda: queue(ids), robust=True)


def queue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
