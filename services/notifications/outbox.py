"""Handing pending messages to the broker, and handing them again when that failed.

The Message row is the outbox: it is written in the caller's transaction and stays pending
until a worker has sent it. Queueing the `notifications.deliver` task is only a wake-up
call; if the broker is unreachable the message waits for `notifications.resend_pending`.
"""

import logging
from contextlib import nullcontext
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from .models import Message

logger = logging.getLogger(__name__)

#: How long a queued message may stay pending before resend_pending queues it again (a
#: worker that died mid-send, a lost broker message). A duplicate wake-up is harmless.
QUEUED_GRACE = timedelta(minutes=5)
#: Messages queued per tenant and resend_pending run (every minute).
RESEND_BATCH = 500
#: Publishing gives up quickly when the broker is down: the caller is often a web request,
#: and nothing is lost (the message stays pending for resend_pending).
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                        "interval_max": 1}


def enqueue(message_ids: list[int], tenant, *, together: bool = False) -> list[int]:
    """Queue `notifications.deliver` for each id in `tenant`'s schema, or with `together`
    one `notifications.deliver_all` for them all (one publish: about a millisecond of CPU
    each); return the ids that could not be queued (left pending and due now, for
    resend_pending)."""
    # Imported when a message is queued: the task module imports Celery, which a process that
    # sends nothing need not load at start-up (dgbox/__init__.py).
    from .delivery import deliver, deliver_all  # noqa: PLC0415

    if together and len(message_ids) > 1:
        tasks = [(deliver_all, list(message_ids))]
    else:
        tasks = [(deliver, message_id) for message_id in message_ids]
    failed: list[int] = []
    # Already in the tenant's schema (a request's commit, the usual caller): no switch, so
    # the connection keeps its search path; tenant_context would set it again on the way
    # out, one more `SET search_path` statement on the request's next query.
    same = getattr(connection, "schema_name", None) == tenant.schema_name
    with nullcontext() if same else tenant_context(tenant):
        for position, (task, argument) in enumerate(tasks):
            try:
                task.apply_async((argument,), headers={"_schema_name": tenant.schema_name},
                                 retry=True, retry_policy=PUBLISH_RETRY_POLICY)
            except Exception as exc:  # noqa: BLE001 - broker down or misconfigured: keep it
                failed = list(message_ids[position:])
                logger.warning(
                    "Could not queue %s notification(s) in %s (%s: %s); they stay pending "
                    "and notifications.resend_pending will queue them.",
                    len(failed), tenant.schema_name, type(exc).__name__, exc)
                break
        if failed:
            Message.objects.filter(pk__in=failed).pending().update(next_attempt_at=timezone.now())
    return failed


def enqueue_on_commit(message_ids: list[int], tenant, *, together: bool = False) -> None:
    """Queue the messages once the current transaction commits (never if it rolls back);
    `together`: as one task (one notice's channels, see `enqueue`)."""
    ids = list(message_ids)
    if ids:
        # robust: the caller's data is committed by then; a failure here is logged, never
        # raised into the caller (the messages stay pending for resend_pending).
        transaction.on_commit(lambda: enqueue(ids, tenant, together=together), robust=True)


def requeue_due(tenant, limit: int = RESEND_BATCH) -> int:
    """Queue again the pending messages whose next attempt is due; return how many.

    The rows are claimed (next attempt pushed QUEUED_GRACE ahead) under SKIP LOCKED, so
    overlapping runs and running deliveries never queue the same message twice at once.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(Message.objects.due(now).order_by("next_attempt_at", "pk")
                   .select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if ids:
            Message.objects.filter(pk__in=ids).update(next_attempt_at=now + QUEUED_GRACE)
            enqueue_on_commit(ids, tenant)
    return len(ids)
