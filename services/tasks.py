"""Tenant tasks of case handling. Each runs in one tenant's schema, takes only ids or ISO
dates and may run twice: the periodic ones are fanned out to every active tenant by beat
(`tenants.fan_out`), see CELERY_BEAT_SCHEDULE and docs/cases.md."""

from datetime import date, datetime

from celery import shared_task


@shared_task(name="services.escalate_deadlines")
def escalate_deadlines(today=None):
    """Recompute SLA flags and tell staff about cases nearing or past their deadline.

    `today`: an ISO date (tests, catching up); default: today in the tenant's time zone."""
    from .escalation import escalate

    return escalate(date.fromisoformat(today) if today else None)


@shared_task(name="services.apply_retention")
def apply_retention(now=None):
    """Erase the personal data of cases whose retention period is over.

    `now`: an ISO date-time with its offset (tests); default: now."""
    from . import retention

    return retention.apply_retention(datetime.fromisoformat(now) if now else None)


@shared_task(name="services.clean_up_personal_data")
def clean_up_personal_data(now=None):
    """Delete abandoned drafts with their uploads and orphaned upload objects, and mask
    tracking codes left in sent messages (services/cleanup.py).

    `now`: an ISO date-time with its offset (tests); default: now."""
    from . import cleanup

    return cleanup.clean_up(datetime.fromisoformat(now) if now else None)


@shared_task(name="services.issue_letter", autoretry_for=(Exception,), retry_backoff=60,
             retry_backoff_max=3600, max_retries=5)
def issue_letter(case_id):
    """Make the decision letter of a case (idempotent: one letter per case and outcome)."""
    from .letters import issue_letter as issue
    from .models import Case

    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        return None
    letter = issue(case)
    return str(letter.pk) if letter is not None else None


@shared_task(name="services.issue_missing_letters")
def issue_missing_letters(now=None):
    """Issue decision letters that their `services.issue_letter` task never made (the broker
    was down when the decision committed). Idempotent: one letter per case and outcome.

    `now`: an ISO date-time with its offset (tests); default: now."""
    from . import letters

    return letters.issue_missing_letters(datetime.fromisoformat(now) if now else None)
