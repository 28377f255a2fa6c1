"""Usage metering per tenant: cases, notifications, API calls and storage, one row per day.

What is measured and where it comes from:

- **API calls**: `ApiCallMeterMiddleware` adds one to a per-tenant, per-day counter in the
  cache (Redis in production: one INCR per request, nothing written to PostgreSQL on the
  request path). Counters live `DGBOX_USAGE_COUNTER_DAYS` days.
- **Cases and notifications**: read from the tenant's own schema by meters the tenant apps
  register (`register_meter`; `services.metering`), so this package imports none of their
  models.
- **Storage**: the tenant's S3 prefix, listed once: private files (citizens' uploads,
  decision letters) as `storage_objects`/`storage_bytes`, public media (page images,
  renditions, documents under `media/`) as `media_bytes` (on disk instead when
  DGBOX_PUBLIC_MEDIA is "local").

`collect_usage()` runs in one tenant's schema (the hourly beat job `tenants.meter_usage`,
fanned out to every active tenant, or `dgbox usage collect`) and upserts that tenant's
`UsageRecord` for today and, so that the last hour of a day is never lost, the day before.
Counters ("how many on that day") are recomputed for both days; gauges ("how many now":
cases, storage) only for today. Running it twice changes nothing. A measurement that fails
(S3 unreachable) is stored as empty and logged, never as zero, and the rest is still kept.

Modules: `counters` (API calls, on the request path), `collect` (the meters and
`collect_usage()`), `query` (what the console and `dgbox usage show` read), `tasks` (the
hourly `tenants.meter_usage`, registered through `tenants.tasks`).
"""

from .collect import COUNTERS, GAUGES, Meter, collect_usage, measure, register_meter
from .counters import (
    ApiCallMeterMiddleware,
    api_calls,
    api_client_calls,
    platform_today,
    record_api_call,
)
from .query import daily_totals, fleet_usage

__all__ = ["COUNTERS", "GAUGES", "ApiCallMeterMiddleware", "Meter", "api_calls",
           "api_client_calls",
           "collect_usage", "daily_totals", "fleet_usage", "measure", "platform_today",
           "record_api_call", "register_meter"]
