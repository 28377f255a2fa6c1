"""Usage metering per tenant: cases, notifications, API calls and storage, one row per day.

What is measured and where it comes from:

- **API calls**: `ApiCallMeterMiddleware` adds one to a per-tenant, per-day counter in the
  "counters" cache (Redis in production: one INCR per request, nothing written to PostgreSQL
  on the request path). Counters live `DGBOX_USAGE_COUNTER_DAYS` days. While Redis is down
  calls are served but not counted (logged), and collection leaves `api_calls` as it was
  (empty on a new row) rather than writing zero.
- **Cases and notifications**: read from the tenant's own schema by meters the tenant apps
  register (`register_meter`; `services.metering`), so this module imports none of their
  models.
- **Storage**: the tenant's private S3 prefix (`infra.s3.prefix_usage`: citizens' uploads,
  decision letters) and its public media folder (page images, documents) on disk.

`collect_usage()` runs in one tenant's schema (the hourly beat job `tenants.meter_usage`,
fanned out to every active tenant, or `dgbox usage collect`) and upserts that tenant's
`UsageRecord` for today and, so that the last hour of a day is never lost, the day before.
Counters ("how many on that day") are recomputed for both days; gauges ("how many now":
cases, storage) only for today. Running it twice changes nothing. A measurement that fails
(S3 unreachable) is stored as empty and logged, never as zero, and the rest is still kept.
"""

import datetime
import logging
import os
import zoneinfo
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from infra import s3

from .models import Tenant, UsageRecord

log = logging.getLogger(__name__)
# One line per API call while Redis is down would flood the log: this logger is rate limited
# (LOGGING in dgbox/settings/base.py).
lost_counts_log = logging.getLogger(f"{__name__}.lost_counts")

API_PREFIX = "/api/"
#: Per day, recomputed for yesterday too.
COUNTERS = ("cases_new", "notifications_sent", "sms_sent", "api_calls")
#: The state now: only meaningful for today.
GAUGES = ("cases_total", "cases_open", "storage_objects", "storage_bytes", "media_bytes")

Meter = Callable[[datetime.datetime, datetime.datetime], dict[str, int]]
_meters: list[Meter] = []


def register_meter(meter: Meter) -> Meter:
    """Add a function `meter(start, end) -> {field: number}` run in the tenant's schema; it
    returns counters for [start, end) and gauges for now, named as UsageRecord's fields."""
    if meter not in _meters:
        _meters.append(meter)
    return meter


# --- API calls ------------------------------------------------------------------------------------


def _api_key(day: datetime.date) -> str:
    # The cache's KEY_FUNCTION (django_tenants.cache.make_key) prefixes every key with the
    # current schema: a counter is only ever seen from its own tenant's schema.
    return f"usage:api:{day.isoformat()}"


def platform_today(now=None) -> datetime.date:
    """Usage days are platform days (settings.TIME_ZONE), the same for every tenant, so that
    the fleet's figures add up day by day."""
    return timezone.localdate(now or timezone.now(), zoneinfo.ZoneInfo(settings.TIME_ZONE))


def record_api_call(now=None) -> None:
    """Count one API call of the current tenant today. Never raises: metering must not break
    the API."""
    key = _api_key(platform_today(now))
    counters = caches["counters"]
    try:
        counters.add(key, 0, timeout=settings.DGBOX_USAGE_COUNTER_DAYS * 86400)
        counters.incr(key)
    except Exception:  # noqa: BLE001 - a cache outage costs a count, not the request
        lost_counts_log.warning("Could not count an API call of %s", connection.schema_name,
                                exc_info=True)


def api_calls(day: datetime.date) -> int:
    """The current tenant's API calls on `day` (while its counter is kept). Raises when the
    cache cannot be read: an unknown count is not zero."""
    return int(caches["counters"].get(_api_key(day)) or 0)


class ApiCallMeterMiddleware:
    """Counts requests to a tenant site's API (paths under /api/), whatever their outcome."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (request.path.startswith(API_PREFIX)
                and connection.schema_name != get_public_schema_name()):
            record_api_call()
        return response


# --- Collection -----------------------------------------------------------------------------------


def _day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    return start, start + datetime.timedelta(days=1)


def _media_bytes(schema_name: str) -> int:
    root = Path(settings.MEDIA_ROOT) / schema_name
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:  # removed while we walked
                pass
    return total


def _storage(schema_name: str) -> dict:
    values = {"media_bytes": _media_bytes(schema_name)}
    try:
        values["storage_objects"], values["storage_bytes"] = s3.prefix_usage(
            s3.tenant_prefix(schema_name))
    except s3.S3Error:
        log.warning("Storage of %s not measured: S3 unreachable", schema_name, exc_info=True)
    return values


def measure(day: datetime.date, *, gauges: bool) -> dict:
    """Every meter's figures for `day` in the current tenant schema."""
    schema = connection.schema_name
    start, end = _day_bounds(day)
    values: dict = {}
    try:
        values["api_calls"] = api_calls(day)
    except Exception:  # noqa: BLE001 - not measured: the stored figure is left as it is
        log.warning("API calls of %s on %s not measured: cache unreachable", schema, day,
                    exc_info=True)
    for meter in _meters:
        values.update(meter(start, end))
    if gauges:
        values.update(_storage(schema))
    keep = COUNTERS + GAUGES if gauges else COUNTERS
    return {field: value for field, value in values.items() if field in keep}


def collect_usage(now=None) -> list[UsageRecord]:
    """Measure the current tenant (run in its schema) and store today's and yesterday's rows."""
    tenant = connection.tenant
    if not isinstance(tenant, Tenant) or tenant.schema_name == get_public_schema_name():
        raise RuntimeError("collect_usage() runs in a tenant's schema")
    today = platform_today(now)
    records = []
    for day, gauges in ((today - datetime.timedelta(days=1), False), (today, True)):
        values = measure(day, gauges=gauges)
        if not gauges and not any(values.values()) and not UsageRecord.objects.filter(
                schema_name=tenant.schema_name, day=day).exists():
            continue  # nothing happened yesterday and nothing was recorded: no empty row
        record, _ = UsageRecord.objects.update_or_create(
            schema_name=tenant.schema_name, day=day,
            defaults={"tenant": tenant, **values, "collected_at": timezone.now()})
        records.append(record)
    return records


# --- Reading (operator console, `dgbox usage show`) ---------------------------------------------


def fleet_usage(days: int = 30, now=None, schema_name: str | None = None) -> list[dict]:
    """One dict per tenant that has usage rows (or only `schema_name`'s): its latest gauges
    and its counters summed over the last `days` days (today included). Two queries whatever
    the number of tenants."""
    from django.db.models import Sum

    since = platform_today(now) - datetime.timedelta(days=days - 1)
    records = UsageRecord.objects.all()
    if schema_name:
        records = records.filter(schema_name=schema_name)
    sums = {row["schema_name"]: row for row in records.filter(day__gte=since)
            .values("schema_name").annotate(**{f: Sum(f) for f in COUNTERS})}
    latest = (records.exclude(cases_total=None).order_by("schema_name", "-day")
              .distinct("schema_name"))
    rows = {r.schema_name: {"schema_name": r.schema_name, "day": r.day,
                            "collected_at": r.collected_at,
                            **{g: getattr(r, g) for g in GAUGES}} for r in latest}
    for schema, summed in sums.items():
        rows.setdefault(schema, {"schema_name": schema, "day": None, "collected_at": None,
                                 **dict.fromkeys(GAUGES)})
        rows[schema].update({c: summed[c] or 0 for c in COUNTERS})
    for row in rows.values():
        for counter in COUNTERS:
            row.setdefault(counter, 0)
    return sorted(rows.values(), key=lambda r: r["schema_name"])


def daily_totals(days: int = 30, schema_name: str | None = None, now=None) -> list[dict]:
    """Counters per day over the last `days` days (missing days as zeros), for the whole fleet
    or one tenant: what the console's charts draw."""
    from django.db.models import Sum

    today = platform_today(now)
    since = today - datetime.timedelta(days=days - 1)
    records = UsageRecord.objects.filter(day__gte=since)
    if schema_name:
        records = records.filter(schema_name=schema_name)
    by_day = {row["day"]: row for row in records.values("day").annotate(
        **{f: Sum(f) for f in COUNTERS})}
    return [{"day": day, **{c: (by_day.get(day, {}).get(c) or 0) for c in COUNTERS}}
            for day in (since + datetime.timedelta(days=i) for i in range(days))]
