"""Sign-in lockouts of the current schema: who is locked out now, and unlocking them.

django-axes counts failed sign-ins in the schema of the site signed in to (a tenant's admin:
that tenant's schema; the operator console: the public schema), so these functions see and
change the current schema's lockouts only: an administrator of one tenant can neither see nor
lift another tenant's. Used by the tenant admin's "Sign-in lockouts" page (cms) and
`dgbox lockout` (any schema, for operators).
"""

import datetime
from dataclasses import dataclass

from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import Max, Sum
from django.utils import timezone


@dataclass(frozen=True)
class Lockout:
    """An account (`kind` "account": a username) or a client address ("address") locked out
    until `until`, after `failures` failed sign-ins."""

    kind: str
    value: str
    failures: int
    until: datetime.datetime


def lockouts(now: datetime.datetime | None = None) -> list[Lockout]:
    """Accounts and addresses locked out now, most recent first."""
    now = now or timezone.now()
    cooloff: datetime.timedelta = settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gt=now - cooloff)
    found = []
    for kind, field in (("account", "username"), ("address", "ip_address")):
        rows = (recent.exclude(**{f"{field}__isnull": True}).order_by().values(field)
                .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
                .filter(failures__gte=settings.AXES_FAILURE_LIMIT))
        found += [Lockout(kind, row[field], row["failures"], row["last"] + cooloff)
                  for row in rows]
    return sorted(found, key=lambda lockout: lockout.until, reverse=True)


def unlock(*, username: str | None = None, address: str | None = None) -> int:
    """Forget the failed sign-ins of `username` and/or from `address` in the current schema,
    which lifts their lockout; returns how many attempt records were removed."""
    if not username and not address:
        raise ValueError("unlock an account (username) or a client address")
    removed = 0
    if username:
        removed += int(reset(username=username))
    if address:
        removed += int(reset(ip=address))
    return removed
