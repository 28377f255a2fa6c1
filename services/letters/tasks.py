"""Tenant tasks of decision letters, and the receiver that queues one when a case is decided.

Each task runs in one tenant's schema, takes only ids or ISO dates and may run twice."""

from datetime import datetime

from celery import shared_task
from django.db import transaction

from ..cases.models import Case
from . import service


def on_decision(case, **_signal):
    """Receiver of `case_decided` (connected in services/apps.py): once the transaction
    commits, queue the decision letter of a case that was just approved or refused (nothing
    for other states)."""
    if case.status not in service.OUTCOMES or case.erased_at is not None:
        return
    pk = case.pk
    transaction.on_commit(lambda: issue_letter.delay(pk), robust=True)


@shared_task(name="services.issue_letter", autoretry_for=(Exception,), retry_backoff=60,
             retry_backoff_max=3600, max_retries=5)
def issue_letter(case_id):
    """Make the decision letter of a case (idempotent: one letter per case and outcome)."""
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        return None
    letter = service.issue_letter(case)
    return str(letter.pk) if letter is not None else None


@shared_task(name="services.issue_missing_letters")
def issue_missing_letters(now=None):
    """Issue decision letters that their `services.issue_letter` task never made (the broker
    was down when the decision committed). Idempotent: one letter per case and outcome.

    `now`: an ISO date-time with its offset (tests); default: now."""
    return service.issue_missing_letters(datetime.fromisoformat(now) if now else None)
