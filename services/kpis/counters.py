"""The funnel's counters: views of service pages and online forms started, counted on the
request path without cookies or personal data, and copied into `FunnelCount` rows.

What is counted (docs/kpis.md):

- **a page view**: a GET of a live service page served with 200 to a visitor who is not
  signed in (only staff and operators sign in), whose browser sent a User-Agent that does not
  name itself a bot, crawler, spider or script, and that is not a prefetch. Previews (they do
  not go through Wagtail's serve view), HEAD requests, password forms and redirects are not.
  Nothing about the visitor is kept: one number per page and day.
- **a form started**: a new application draft saved for an online service (the web form's
  first "continue", or a submission over the open API, which drafts then submits), after its
  transaction commits; a draft entered by staff for another channel is not.

Each count is one INCR (with its EXPIRE, in one round trip) in the "counters" cache, under a
key the cache's KEY_FUNCTION prefixes with the tenant's schema, per tenant day (the tenant's
time zone) and page. It never raises: with Redis down the count is lost and a rate-limited
line says so. `collect_funnel()` (hourly, and before a day's KPIs are computed) copies the
counters of today and yesterday into `FunnelCount`, setting the row, never adding to it, so
collecting twice changes nothing; a counter that is not there (expired, or Redis down) leaves
the stored row as it is.
"""

import datetime
import logging
import re
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from cms.models import ServicePage

from ..cases.escalation import today as tenant_today
from .models import FunnelCount

log = logging.getLogger(__name__)
# One line per page view while Redis is down would flood the log: rate limited (LOGGING).
lost_counts_log = logging.getLogger("services.kpis.lost_counts")

VIEWS, STARTED = "views", "started"
#: User-Agents that say they are not a person with a browser.
NOT_A_PERSON = re.compile(r"bot|crawl|spider|slurp|scrap|fetch|preview|monitor|checker|"
                          r"curl|wget|python|httpx|go-http|java/|okhttp|headless",
                          re.IGNORECASE)


def _key(day: datetime.date, page_id: int, what: str) -> str:
    # The cache's KEY_FUNCTION (django_tenants.cache.make_key) prefixes the schema: a
    # tenant's counter is only ever seen from its own schema.
    return f"kpis:funnel:{day.isoformat()}:{page_id}:{what}"


def _ttl() -> int:
    return max(2, settings.DGBOX_USAGE_COUNTER_DAYS) * 86400


def count(page_id: int, what: str, now: datetime.datetime | None = None) -> None:
    """Add one to the current tenant's counter `what` of `page_id` today. Never raises."""
    counters = caches["counters"]
    key = _key(tenant_today(now), page_id, what)
    try:
        client = getattr(getattr(counters, "client", None), "get_client", None)
        if client is not None:  # Redis: INCR and EXPIRE in one round trip
            full = counters.make_key(key)
            pipe = client(write=True).pipeline(transaction=False)
            pipe.incr(full)
            pipe.expire(full, _ttl())
            pipe.execute()
        else:  # the per-process cache of development and tests
            counters.add(key, 0, timeout=_ttl())
            counters.incr(key)
    except Exception:  # noqa: BLE001 - a cache outage costs a count, never the page
        lost_counts_log.warning("Could not count a %s of page %s of %s", what, page_id,
                                connection.schema_name, exc_info=True)


def is_counted_view(request: HttpRequest, response: HttpResponse) -> bool:
    """Whether serving `response` to `request` is a page view (see the module docstring).
    Reads nothing the request has not already read: the staff session middleware has loaded
    the user of every request."""
    if request.method != "GET" or response.status_code != 200:
        return False
    if getattr(request, "is_preview", False) or request.user.is_authenticated:
        return False
    purpose = request.headers.get("Sec-Purpose") or request.headers.get("Purpose") or ""
    if "prefetch" in purpose.lower():
        return False
    agent = request.headers.get("User-Agent") or ""
    return bool(agent) and not NOT_A_PERSON.search(agent)


def record_view(page_id: int) -> None:
    count(page_id, VIEWS)


def record_form_started(page_id: int) -> None:
    count(page_id, STARTED)


def read(days: Iterable[datetime.date], page_ids: list[int]
         ) -> dict[tuple[datetime.date, int], tuple[int | None, int | None]]:
    """{(day, page): (views, forms started)} of the current tenant as the counters hold them
    (None: no counter), for the pages that have one. One round trip; raises when the cache
    cannot be read (an unknown count is not zero)."""
    keys = {(day, page_id, what): _key(day, page_id, what)
            for day in days for page_id in page_ids for what in (VIEWS, STARTED)}
    found = caches["counters"].get_many(list(keys.values())) if keys else {}
    result = {}
    for (day, page_id, what), key in keys.items():
        if key in found:
            views, started = result.get((day, page_id), (None, None))
            value = int(found[key])
            result[day, page_id] = (value, started) if what == VIEWS else (views, value)
    return result


def collect_funnel(days: Iterable[datetime.date] | None = None) -> int:
    """Copy the current tenant's counters of `days` (default: its today and yesterday) into
    `FunnelCount`, setting each row to the counters' values. Returns the rows written; 0 when
    the counters cannot be read (logged; the stored rows are kept)."""
    if days is None:
        today = tenant_today()
        days = (today - datetime.timedelta(days=1), today)
    days = list(days)
    page_ids = list(ServicePage.objects.values_list("pk", flat=True))
    try:
        counted = read(days, page_ids)
    except Exception:  # the next collection tries again
        log.warning("Funnel of %s not collected: the counters cannot be read",
                    connection.schema_name, exc_info=True)
        return 0
    rows = [FunnelCount(day=day, page_id=page_id, views=views or 0,
                        forms_started=started or 0)
            for (day, page_id), (views, started) in counted.items()]
    if rows:
        FunnelCount.objects.bulk_create(rows, update_conflicts=True,
                                        unique_fields=["day", "page"],
                                        update_fields=["views", "forms_started"])
    return len(rows)


def counter_days(now: datetime.datetime | None = None) -> set[datetime.date]:
    """The tenant days whose counters may still be in the cache."""
    today = tenant_today(now or timezone.now())
    return {today - datetime.timedelta(days=n) for n in range(settings.DGBOX_USAGE_COUNTER_DAYS)}
