"""Rate limits and sign-in lockout: counted per client address and per tenant, atomically.

Counters are fixed windows in the "counters" cache (Redis in production): the first request
of a window creates its key (`SET NX` with an expiry), every request adds one with `INCR`,
both atomic in Redis, so concurrent requests in any number of processes and threads are each
counted once, and a limit of N lets exactly N through per window. Keys carry the tenant's
schema (the cache's key function), so one tenant's counts never touch another's.

Who is counted: `infra.clientip.client_address` (the one answer to "which client is this"),
and, for the noisy-neighbour limits, the tenant itself (`tenant_hit`: all of a tenant's API
or apply-form requests together, at the rate of its kind, `DGBOX_TENANT_*_RATES`).

When the counters cannot be reached (Redis down) `hit` raises `LimitUnavailable` and each
caller decides (docs/operations.md, "When a dependency fails"): the open API and the apply
form let the request through (fail open; logged by `tenants.limits.uncounted` once per 30 s),
while tracking codes and password resets refuse it with "try again later" (fail closed).

Sign-ins are counted by django-axes in the database of the site signed in to (its models are
in SHARED_APPS and TENANT_APPS), not here: `lockout_response` is its lockout page.
"""

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from infra.clientip import client_address
from tenants.db import connection

log = logging.getLogger(__name__)
uncounted_log = logging.getLogger(f"{__name__}.uncounted")

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Seconds to wait when a fail-closed limit cannot be counted.
UNAVAILABLE_RETRY_AFTER = 60


class LimitUnavailable(Exception):
    """The counters cannot be reached: the request was not counted."""


@dataclass(frozen=True)
class Rate:
    """`limit` requests per `seconds`."""

    limit: int
    seconds: int


def parse_rate(text: str) -> Rate:
    """"600/minute", "5/hour", "100/10s" (REST framework's syntax, plus a multiplier)."""
    found = _RATE.match(text or "")
    if found is None or int(found[1]) < 1:
        raise ValueError(f"not a rate: {text!r} (write it like 600/minute or 5/hour)")
    seconds = _UNIT_SECONDS[found[3][0]] * int(found[2] or 1)
    return Rate(int(found[1]), seconds)


@dataclass(frozen=True)
class Count:
    """One request counted: how many in this window so far, and when the window ends."""

    count: int
    rate: Rate
    retry_after: int

    @property
    def exceeded(self) -> bool:
        return self.count > self.rate.limit


def hit(name: str, ident: str, rate: Rate, now: float | None = None) -> Count:
    """Count one request of `ident` against the limit `name` (LimitUnavailable if the counters
    cannot be reached)."""
    now = time.time() if now is None else now
    window = int(now // rate.seconds)
    key = f"limit:{name}:{ident}:{window}"
    counters = caches["counters"]
    try:
        counters.add(key, 0, rate.seconds + 5)
        count = counters.incr(key)
    except Exception as exc:  # whatever the cache raises, nothing was counted
        raise LimitUnavailable(f"{name}: {type(exc).__name__}: {exc}") from exc
    retry_after = max(1, math.ceil((window + 1) * rate.seconds - now))
    return Count(int(count), rate, retry_after)


def hit_or_pass(name: str, ident: str, rate: Rate) -> Count | None:
    """`hit`, failing open: None (not counted, let through) when the counters are down."""
    try:
        return hit(name, ident, rate)
    except LimitUnavailable as exc:
        uncounted_log.warning("Limit not enforced, the counters cannot be reached (%s)", exc)
        return None


def tenant_rate(scope: str) -> Rate | None:
    """The current tenant's limit for `scope` ("api" or "apply"), by its kind; None if its
    kind has none (or on the public schema)."""
    rates: dict[str, str] = {"api": settings.DGBOX_TENANT_API_RATES,
                             "apply": settings.DGBOX_TENANT_APPLY_RATES}[scope]
    kind = getattr(connection.tenant, "kind", None)
    text = rates.get(kind) if isinstance(kind, str) else None
    return parse_rate(text) if text else None


def tenant_hit(scope: str) -> Count | None:
    """Count one request of the current tenant's `scope` (fails open); None if unlimited."""
    rate = tenant_rate(scope)
    if rate is None:
        return None
    return hit_or_pass(f"tenant-{scope}", connection.schema_name, rate)


def too_many(request: HttpRequest, reason: str, retry_after: int) -> HttpResponse:
    """The accessible 429 page: what happened, and when to try again."""
    response = render(request, "limits/too_many.html",
                      {"reason": reason, "retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _login_url(request: HttpRequest) -> str:
    for name in ("operator-login", "wagtailadmin_login"):
        try:
            return reverse(name, urlconf=getattr(request, "urlconf", None))
        except NoReverseMatch:
            continue
    return "/"


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """django-axes' AXES_LOCKOUT_CALLABLE: the "sign-in locked" page, 429 with Retry-After
    (the cool-off time), in the page's language, the same for every account and address."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(request, "limits/locked_out.html",
                      {"minutes": max(1, math.ceil(seconds / 60)),
                       "login_url": _login_url(request)}, status=429)
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response


def limit_password_reset(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a password-reset view: each request sent (POST) counts against its client address
    and against the e-mail address it names (DGBOX_PASSWORD_RESET_RATE each), so nobody can
    flood a member of staff with reset e-mails, or probe addresses from one machine. Fails
    closed: with the counters down no e-mail is sent ("try again in a minute")."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        rate = parse_rate(settings.DGBOX_PASSWORD_RESET_RATE)
        email = str(request.POST.get("email", "")).strip().lower()[:254]
        try:
            counts = [hit("password-reset-client", client_address(request), rate)]
            if email:
                counts.append(hit("password-reset-email", email, rate))
        except LimitUnavailable as exc:
            log.warning("Password reset refused: its limit cannot be counted (%s)", exc)
            response = render(request, "limits/too_many.html", {
                "reason": _("We cannot send password reset e-mails right now."),
                "retry_after": UNAVAILABLE_RETRY_AFTER}, status=503)
            response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            response["Cache-Control"] = "no-store"
            return response
        exceeded = [count for count in counts if count.exceeded]
        if exceeded:
            return too_many(request, _("There were too many requests to reset a password "
                                       "from this device or for this e-mail address."),
                            max(count.retry_after for count in exceeded))
        return view(request, *args, **kwargs)

    return wrapped
