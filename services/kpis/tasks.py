"""Tenant tasks of the KPIs, fanned out to every active tenant by beat (`tenants.fan_out`,
CELERY_BEAT_SCHEDULE): each runs in one tenant's schema, takes only ISO dates and may run
twice (docs/kpis.md)."""

import datetime

from celery import shared_task

from tenants.db import connection

from ..cases.escalation import tenant_zone
from .compute import compute_day, yesterday
from .counters import collect_funnel
from .models import KpiSnapshot


@shared_task(name="kpis.collect_funnel")
def collect_funnel_counts() -> int:
    """Hourly: copy today's and yesterday's funnel counters into FunnelCount (sets, not adds)."""
    return collect_funnel()


@shared_task(name="kpis.compute_day")
def compute_kpis(day: str | None = None) -> str | None:
    """Compute the tenant's KPIs of `day` (ISO date), by default of its yesterday once: sent
    hourly to every tenant so that each computes its yesterday within an hour of its own
    midnight, whatever its time zone; a later run that finds yesterday computed after it
    ended does nothing. Returns the day computed, or None."""
    if day is not None:
        return compute_day(datetime.date.fromisoformat(day)).day.isoformat()
    target = yesterday()
    midnight = datetime.datetime.combine(target + datetime.timedelta(days=1), datetime.time.min,
                                         tzinfo=tenant_zone(connection.tenant))
    if KpiSnapshot.objects.filter(day=target, page=None, computed_at__gte=midnight).exists():
        return None
    compute_day(target)
    return target.isoformat()


__all__ = ["collect_funnel_counts", "compute_kpis"]
