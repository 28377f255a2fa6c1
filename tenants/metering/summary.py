"""The fleet's usage figures the console's home page shows, computed ahead of operators
(`tenants.console.views.home` reads them).

Summing a period's usage for thousands of tenants (5,000 tenants x 30 days: 150,000 rows) costs
more than the rest of the page, and the figures change only when usage is collected (hourly).
So the beat job `tenants.summarise_usage` computes them every
DGBOX_CONSOLE_USAGE_CACHE_SECONDS for each of the console's periods and stores them in the
public schema: one `UsageSummary` row per tenant (the page sorts, filters and pages tenants in
SQL and reads only the shown page's figures) and one `FleetUsage` row (the charts and totals).
In the database, not the cache: the page still has its figures with Redis down, and the sort
by a usage figure needs them as columns.

When they are missing (the job has not run yet) the page answers at once with what it has
(the tenants, without usage, and a notice) and queues the job; when they are older than two
runs (beat stopped) it shows them with their age and queues it. DGBOX_CONSOLE_USAGE_CACHE_SECONDS
= 0 computes them on every view instead (tests, a handful of tenants).
"""

import datetime
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from tenants.models import FleetUsage, Tenant, UsageSummary
from tenants.platform_task import platform_task

from .collect import COUNTERS, GAUGES
from .query import daily_totals, fleet_usage

logger = logging.getLogger(__name__)

#: The console's periods in days (the home page's choice).
PERIODS = (7, 30, 90)
#: The usage figures of a tenant's row, as the home page's table reads them.
FIELDS = ("day", "collected_at", *COUNTERS, *GAUGES)
QUEUED_KEY = "console:usage-summary-queued"


def refresh(periods: tuple[int, ...] = PERIODS, now: datetime.datetime | None = None) -> None:
    """Compute and store the fleet's and every tenant's usage over each of `periods` days.
    Idempotent; two runs at once leave the later one's figures (rows are upserted)."""
    computed_at = now or timezone.now()
    tenant_ids = dict(Tenant.objects.values_list("schema_name", "pk"))
    for days in periods:
        usage = fleet_usage(days, now=now)
        series = daily_totals(days, now=now)
        totals = {c: sum(p[c] for p in series) for c in COUNTERS}
        rows = [UsageSummary(days=days, tenant_id=tenant_ids[row["schema_name"]],
                             computed_at=computed_at,
                             **{f: row[f] for f in ("schema_name", *FIELDS)})
                for row in usage if row["schema_name"] in tenant_ids]  # not deleted ones
        with transaction.atomic():
            UsageSummary.objects.bulk_create(
                rows, batch_size=1000, update_conflicts=True, unique_fields=["days", "tenant"],
                update_fields=["schema_name", "computed_at", *FIELDS])
            UsageSummary.objects.filter(days=days, computed_at__lt=computed_at).delete()
            FleetUsage.objects.update_or_create(days=days, defaults={
                "series": series, "totals": totals, "computed_at": computed_at})


@platform_task("tenants.summarise_usage")
def summarise_usage() -> None:
    """Beat, every DGBOX_CONSOLE_USAGE_CACHE_SECONDS: the console's usage figures."""
    refresh()
    cache.delete(QUEUED_KEY)


def fleet_figures(days: int) -> FleetUsage | None:
    """The fleet's figures over `days` days for a view, `None` if there are none yet; queues
    the job when they are missing or older than two of its runs."""
    every = settings.DGBOX_CONSOLE_USAGE_CACHE_SECONDS
    if not every:
        refresh((days,))
    fleet = FleetUsage.objects.filter(days=days).first()
    stale = bool(every) and (fleet is None or fleet.computed_at
                             < timezone.now() - datetime.timedelta(seconds=2 * every))
    if stale:
        _queue(every)
    if fleet is not None:
        fleet.stale = stale  # type: ignore[attr-defined]  # for the page, not stored
        fleet.series = [{**p, "day": datetime.date.fromisoformat(p["day"])}
                        for p in fleet.series]
    return fleet


def _queue(every: int) -> None:
    """Send `tenants.summarise_usage` once per run interval, whoever asks (the key is shared
    by every web process; with Redis down nothing is sent, and the page still answers)."""
    if not cache.add(QUEUED_KEY, True, timeout=every):
        return

    def send() -> None:
        try:
            summarise_usage.delay()
        except Exception:  # the broker down: beat sends it again
            logger.warning("could not queue tenants.summarise_usage", exc_info=True)

    transaction.on_commit(send)


def page_usage(tenant: Any) -> dict[str, Any]:
    """A listed tenant's figures as the view annotated them (`{}` without a summary row)."""
    if getattr(tenant, "usage_days", None) is None:
        return {}
    return {f: getattr(tenant, f"usage_{f}") for f in FIELDS}
