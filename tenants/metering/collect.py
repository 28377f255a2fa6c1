"""Measuring one tenant and storing its `UsageRecord` for today and yesterday.

Cases and notifications are read from the tenant's own schema by meters the tenant apps
register (`register_meter`; `services.metering`), so this module imports none of their
models. Storage is the tenant's S3 prefix, split into private files (`storage_objects`,
`storage_bytes`) and public media (`media_bytes`: its `media/` folder, or MEDIA_ROOT/<schema>/
on disk when DGBOX_PUBLIC_MEDIA is "local"), so the two never count the same byte. See the
package docstring for when it runs and what it guarantees.
"""

import datetime
import logging
import os
import zoneinfo
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from infra import s3
from tenants.db import connection
from tenants.models import Tenant, UsageRecord

from .counters import api_calls, platform_today

log = logging.getLogger(__name__)

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


def _s3_storage(schema_name: str) -> dict[str, int]:
    """Private objects and bytes, and public media bytes, from one listing of the prefix."""
    prefix, media = s3.tenant_prefix(schema_name), s3.media_prefix(schema_name)
    objects = private = public = 0
    for info in s3.iter_objects(prefix):
        if info.key.startswith(media):
            public += info.size
        else:
            objects += 1
            private += info.size
    return {"storage_objects": objects, "storage_bytes": private, "media_bytes": public}


def _storage(schema_name: str) -> dict[str, int]:
    try:
        values = _s3_storage(schema_name)
    except s3.S3Error:
        log.warning("Storage of %s not measured: S3 unreachable", schema_name, exc_info=True)
        values = {}
    if settings.DGBOX_PUBLIC_MEDIA == "local":
        values["media_bytes"] = _media_bytes(schema_name)
    return values


def measure(day: datetime.date, *, gauges: bool) -> dict[str, int]:
    """Every meter's figures for `day` in the current tenant schema."""
    schema = connection.schema_name
    start, end = _day_bounds(day)
    values: dict[str, int] = {}
    try:
        values["api_calls"] = api_calls(day)
    except Exception:  # not measured: the stored figure is left as it is
        log.warning("API calls of %s on %s not measured: cache unreachable", schema, day,
                    exc_info=True)
    for meter in _meters:
        values.update(meter(start, end))
    if gauges:
        values.update(_storage(schema))
    keep = COUNTERS + GAUGES if gauges else COUNTERS
    return {field: value for field, value in values.items() if field in keep}


def collect_usage(now: datetime.datetime | None = None) -> list[UsageRecord]:
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
