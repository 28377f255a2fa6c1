"""Tenant tasks of case handling. Each runs in one tenant's schema, takes only ids or ISO
dates and may run twice: they are fanned out to every active tenant by beat
(`tenants.fan_out`), see CELERY_BEAT_SCHEDULE and docs/cases.md."""

from datetime import date, datetime

from celery import shared_task

from . import retention
from .escalation import escalate


@shared_task(name="services.escalate_deadlines")
def escalate_deadlines(today=None):
    """Recompute SLA flags and tell staff about cases nearing or past their deadline.

    `today`: an ISO date (tests, catching up); default: today in the tenant's time zone."""
    return escalate(date.fromisoformat(today) if today else None)


@shared_task(name="services.apply_retention")
def apply_retention(now=None):
    """Erase the personal data of cases whose retention period is over.

    `now`: an ISO date-time with its offset (tests); default: now."""
    return retention.apply_retention(datetime.fromisoformat(now) if now else None)
