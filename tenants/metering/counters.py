"""API calls per tenant and day, counted on the request path without touching PostgreSQL.

`ApiCallMeterMiddleware` adds one to a per-tenant, per-day counter in the "counters" cache (Redis in
production: one INCR per request). Counters live `DGBOX_USAGE_COUNTER_DAYS` days; the hourly
collection (collect.py) copies them into `UsageRecord` rows well before.

A call made with an API key is also counted for its client (`request.api_client`, set by the
open API's key authentication, services/api/auth.py): calls and, of them, writes per client and
day, read back with `api_client_calls` (services/api copies them into its own daily rows).
"""

import datetime
import logging
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from tenants.db import connection

log = logging.getLogger(__name__)
# One line per API call while Redis is down would flood the log: this logger is rate limited
# (LOGGING in dgbox/settings/base.py).
lost_counts_log = logging.getLogger("tenants.metering.lost_counts")

API_PREFIX = "/api/"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _api_key(day: datetime.date) -> str:
    # The cache's KEY_FUNCTION (django_tenants.cache.make_key) prefixes every key with the
    # current schema: a counter is only ever seen from its own tenant's schema.
    return f"usage:api:{day.isoformat()}"


def platform_today(now: datetime.datetime | None = None) -> datetime.date:
    """Usage days are platform days (settings.TIME_ZONE), the same for every tenant, so that
    the fleet's figures add up day by day."""
    return timezone.localdate(now or timezone.now(), zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _client_key(day: datetime.date, client_id: int, what: str) -> str:
    return f"usage:api-client:{client_id}:{what}:{day.isoformat()}"


def record_api_call(now: datetime.datetime | None = None, *, client_id: int | None = None,
                    write: bool = False) -> None:
    """Count one API call of the current tenant today, and of its API client when the call
    carried a key (`write`: also one write). Never raises: metering must not break the API."""
    day = platform_today(now)
    keys = [_api_key(day)]
    if client_id is not None:
        keys.append(_client_key(day, client_id, "calls"))
        if write:
            keys.append(_client_key(day, client_id, "writes"))
    counters = caches["counters"]
    try:
        for key in keys:
            counters.add(key, 0, timeout=settings.DGBOX_USAGE_COUNTER_DAYS * 86400)
            counters.incr(key)
    except Exception:  # noqa: BLE001 - a cache outage costs a count, not the request
        lost_counts_log.warning("Could not count an API call of %s", connection.schema_name,
                                exc_info=True)


def api_calls(day: datetime.date) -> int:
    """The current tenant's API calls on `day` (while its counter is kept). Raises when the
    cache cannot be read: an unknown count is not zero."""
    return int(caches["counters"].get(_api_key(day)) or 0)


def api_client_calls(day: datetime.date, client_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(calls, writes) of each of the current tenant's API clients on `day`, while the
    counters are kept (one round trip). Raises when the cache cannot be read."""
    keys = {(client_id, what): _client_key(day, client_id, what)
            for client_id in client_ids for what in ("calls", "writes")}
    found = caches["counters"].get_many(list(keys.values()))
    return {client_id: (int(found.get(keys[client_id, "calls"]) or 0),
                        int(found.get(keys[client_id, "writes"]) or 0))
            for client_id in client_ids}


class ApiCallMeterMiddleware:
    """Counts requests to a tenant site's API (paths under /api/), whatever their outcome."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.path.startswith(API_PREFIX)
                and connection.schema_name != get_public_schema_name()):
            client = getattr(request, "api_client", None)
            record_api_call(client_id=getattr(client, "pk", None),
                            write=request.method in WRITE_METHODS)
        return response
