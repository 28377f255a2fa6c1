"""Tenant tasks of applications; each runs in one tenant's schema and may run twice (fanned
out to every active tenant by beat, see CELERY_BEAT_SCHEDULE)."""

from datetime import datetime

from celery import shared_task

from . import cleanup


@shared_task(name="services.clean_up_personal_data")
def clean_up_personal_data(now=None):
    """Delete abandoned drafts with their uploads and orphaned upload objects, and mask
    tracking codes left in sent messages (services/applications/cleanup.py).

    `now`: an ISO date-time with its offset (tests); default: now."""
    return cleanup.clean_up(datetime.fromisoformat(now) if now else None)
