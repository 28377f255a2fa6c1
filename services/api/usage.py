"""Calls per API client per day: counted in Redis on the request path by
tenants.metering.ApiCallMeterMiddleware (two INCRs per keyed call, none in PostgreSQL), copied
hourly into ApiClientUsage rows by `copy_client_usage`, a meter registered with the hourly
usage collection (tenants/metering/collect.py; it runs in each tenant's schema for yesterday
and today). What the administrator reads: the rows, with today's figures read live."""

import datetime
import logging

from tenants.metering import api_client_calls, platform_today

from .models import ApiClient, ApiClientUsage

log = logging.getLogger(__name__)


def copy_client_usage(start: datetime.datetime, end: datetime.datetime) -> dict[str, int]:
    """A meter (tenants.metering.register_meter): store each client's calls on the day that
    starts at `start`. Returns no UsageRecord figures (the tenant's total is counted there
    already). A day whose counters cannot be read keeps what was stored, never zero."""
    day = start.date()
    ids = list(ApiClient.objects.values_list("pk", flat=True))
    if not ids:
        return {}
    try:
        counts = api_client_calls(day, ids)
    except Exception:
        log.warning("API client usage of %s not measured: cache unreachable", day, exc_info=True)
        return {}
    for client_id, (calls, writes) in counts.items():
        if calls or writes:
            ApiClientUsage.objects.update_or_create(
                client_id=client_id, day=day, defaults={"calls": calls, "writes": writes})
    return {}


def daily(client: ApiClient, days: int = 14) -> list[dict]:
    """The client's last `days` days, newest first: {"day", "calls", "writes"}; today (and
    yesterday, whose last hour may not be copied yet) read live from the counters when they
    answer."""
    today = platform_today()
    since = today - datetime.timedelta(days=days - 1)
    stored = {row.day: (row.calls, row.writes)
              for row in client.usage.filter(day__gte=since)}
    for day in (today - datetime.timedelta(days=1), today):
        try:
            live = api_client_calls(day, [client.pk])[client.pk]
        except Exception:  # show what was stored
            log.warning("API client usage of %s not read: cache unreachable", day,
                        exc_info=True)
            continue
        if live != (0, 0):  # the counters are the truth while they are kept
            stored[day] = live
    rows = []
    for offset in reversed(range(days)):
        day = since + datetime.timedelta(days=offset)
        calls, writes = stored.get(day, (0, 0))
        rows.append({"day": day, "calls": calls, "writes": writes})
    return rows


def calls_today(clients: list[ApiClient]) -> dict[int, int | None]:
    """Each client's calls today (None when the counters cannot be read)."""
    ids = [client.pk for client in clients]
    try:
        return {client_id: calls for client_id, (calls, _) in
                api_client_calls(platform_today(), ids).items()}
    except Exception:  # unknown is not zero
        log.warning("API client calls today not read: cache unreachable", exc_info=True)
        return dict.fromkeys(ids)

