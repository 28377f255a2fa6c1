"""Automatic indicators: what the platform itself knows about the tenant, as a number that the
model file's thresholds turn into a level (framework.Indicator.level_for).

Each measure reads the current schema only and returns a `Measurement`: the value (a share
0..1 or a count; None when there is nothing to measure, which leaves the indicator "not
assessed" rather than at level 1) and the figures it was computed from, kept with the round
so a reviewer can check them. Periods end today in the tenant's time zone and cover
`PERIOD_DAYS` days.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from services.api.models import ApiClient
from services.forms.models import OnlineService
from services.kpis.models import KpiSnapshot
from tenants.kpis.figures import ratio, total

PERIOD_DAYS = 90


@dataclass(frozen=True)
class Measurement:
    value: float | None
    figures: dict[str, Any] = field(default_factory=dict)


def _period() -> tuple[datetime.date, datetime.date]:
    today = timezone.localdate()
    return today - datetime.timedelta(days=PERIOD_DAYS - 1), today


def _overall_totals():
    start, end = _period()
    return total(KpiSnapshot.objects.filter(page__isnull=True, day__range=(start, end)))


def _ratio_measurement(part: int, whole: int, part_name: str, whole_name: str) -> Measurement:
    return Measurement(ratio(part, whole), {part_name: part, whole_name: whole})


def take_up() -> Measurement:
    """Share of applications received online (all channels' cases; the KPI snapshots)."""
    totals = _overall_totals()
    return _ratio_measurement(totals.counts["cases_online"], totals.cases, "online", "cases")


def usefulness() -> Measurement:
    totals = _overall_totals()
    useful = totals.counts["feedback_useful"]
    return _ratio_measurement(useful, useful + totals.counts["feedback_not_useful"], "useful",
                              "answers")


def sla_compliance() -> Measurement:
    totals = _overall_totals()
    return _ratio_measurement(totals.counts["decided_on_time"],
                              totals.counts["decided_with_deadline"], "on_time",
                              "with_deadline")


def automation() -> Measurement:
    totals = _overall_totals()
    return _ratio_measurement(totals.counts["decided_automatically"], totals.counts["decided"],
                              "automatic", "decided")


def _latest_gauges() -> KpiSnapshot | None:
    return KpiSnapshot.objects.filter(page__isnull=True).order_by("-day").first()


def services_online_share() -> Measurement:
    """Services online end to end among those published (the latest snapshot's gauges)."""
    row = _latest_gauges()
    if row is None:
        return Measurement(None)
    return _ratio_measurement(row.services_online, row.services_published, "online",
                              "published")


def services_api_share() -> Measurement:
    """Services with an open API among the services online (the latest snapshot's gauges)."""
    row = _latest_gauges()
    if row is None:
        return Measurement(None)
    return _ratio_measurement(row.services_api, row.services_online, "api", "online")


def registers_used() -> Measurement:
    """Published online services, open for applications, that look up at least one register
    (services/registers: a lookup answers from the tenant's records instead of a document)."""
    services = list(OnlineService.objects.published().filter(accepting=True)
                    .only("pk", "register_lookups"))
    looking = sum(1 for service in services if len(service.register_lookups))
    return _ratio_measurement(looking, len(services), "with_lookups", "services")


def api_clients_active() -> Measurement:
    """Active API clients with a key used within the period (a count, not a share)."""
    start, _end = _period()
    since = timezone.make_aware(datetime.datetime.combine(start, datetime.time.min))
    active = (ApiClient.objects.filter(is_active=True, keys__last_used_at__gte=since)
              .distinct().count())
    return Measurement(float(active), {"clients": active})


def staff_users():
    """Active accounts that may use the admin: administrators and anyone with
    wagtailadmin.access_admin, directly or through a group."""
    access = Q(user_permissions__codename="access_admin",
               user_permissions__content_type__app_label="wagtailadmin") | Q(
        groups__permissions__codename="access_admin",
        groups__permissions__content_type__app_label="wagtailadmin")
    return get_user_model().objects.filter(is_active=True).filter(
        Q(is_superuser=True) | access).distinct()


def staff_2fa() -> Measurement:
    """Share of active staff with a confirmed authenticator app (django-otp TOTP device)."""
    staff = staff_users()
    with_device = staff.filter(pk__in=TOTPDevice.objects.filter(confirmed=True)
                               .values("user_id")).count()
    return _ratio_measurement(with_device, staff.count(), "with_second_factor", "staff")


MEASURES: dict[str, Callable[[], Measurement]] = {
    "take_up": take_up,
    "usefulness": usefulness,
    "sla_compliance": sla_compliance,
    "automation": automation,
    "services_online_share": services_online_share,
    "services_api_share": services_api_share,
    "registers_used": registers_used,
    "api_clients_active": api_clients_active,
    "staff_2fa": staff_2fa,
}


def measure(name: str) -> Measurement:
    return MEASURES[name]()
