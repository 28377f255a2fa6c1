"""KPI roll-ups by level (municipality -> region -> nation) over a period, read from the public
copies of the tenants' daily snapshots (`TenantKpi`).

Computed on read, not stored: a roll-up is three grouped queries over the period's rows (sums
per tenant; the decision-time histograms merged per tenant inside PostgreSQL with
`jsonb_each_text`; each tenant's latest gauges), whatever the number of tenants, and every
level is then added up in Python from the per-tenant totals (a few thousand small objects).
Nothing can go stale when the daily job recomputes a past day, and any period or category is
answered without a second table to keep in step. docs/kpi-levels.md has the measurement at
2,000 tenants x 365 days and the index the queries use (`tenant_kpi_tenant_day`).

Indicators are ratios of sums (`figures.Totals`): a region's take-up is its tenants' online
cases over all their cases, never the mean of their take-ups.

Normalisation, where raw counts mislead: cases per 1,000 residents (`Tenant.population`; a
tenant without one is listed but not ranked per capita) and cases per published service.
A region's population is all its residents (its municipalities' included), so a region's
roll-up (its own row and its municipalities') is divided by the region's population; the
nation's is the sum of the regions' populations, and unknown if any region has none.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import hashlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, cast

from django.core.cache import cache
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Trunc

from tenants.models import Tenant, TenantKpi

from .figures import COUNTS, GAUGES, Totals
from .histograms import merged_by

#: Periods offered by the console, in days (the last N days up to yesterday included).
PERIOD_CHOICES = (7, 30, 90, 365)
#: Longer periods are drawn as weekly points in trends (365 daily points say nothing more).
WEEKLY_FROM_DAYS = 91


@dataclasses.dataclass(frozen=True)
class Period:
    """Days `start` to `end`, both included."""

    start: datetime.date
    end: datetime.date

    @classmethod
    def last(cls, days: int, today: datetime.date) -> Period:
        """The last `days` complete days before `today` (today's snapshot is not taken yet)."""
        end = today - datetime.timedelta(days=1)
        return cls(end - datetime.timedelta(days=days - 1), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _rows(period: Period, category: str, scope: QuerySet[Tenant] | None) -> QuerySet[TenantKpi]:
    rows = TenantKpi.objects.filter(day__gte=period.start, day__lte=period.end,
                                    category=category, tenant__isnull=False)
    if scope is not None:
        # A subquery: no extra round trip.
        rows = rows.filter(tenant__in=scope.order_by().values("pk"))
    return rows


def tenant_totals(period: Period, category: str = "",
                  scope: QuerySet[Tenant] | None = None) -> dict[int, Totals]:
    """Every tenant's totals over `period` ({tenant id: Totals}), for the tenants in `scope`
    (None: all). Three queries whatever the number of tenants or days."""
    rows = _rows(period, category, scope)
    totals: dict[int, Totals] = {}
    sums = {f"sum_{name}": Sum(name) for name in COUNTS}
    grouped = rows.order_by().values("tenant_id").annotate(
        **sums, sum_cost=Sum("cost"), sum_savings=Sum("savings"), n=Count("pk"))
    for row in cast(Iterable[dict[str, Any]], grouped):
        t = totals[row["tenant_id"]] = Totals()
        for name in COUNTS:
            t.counts[name] = int(row[f"sum_{name}"] or 0)
        t.cost = Decimal(row["sum_cost"] or 0)
        t.savings = Decimal(row["sum_savings"] or 0)
        t.rows = row["n"]
    if not totals:
        return totals
    # The histograms merged in the database: one row per tenant and number of days.
    for tenant_id, histogram in merged_by(rows, "tenant_id").items():
        if tenant_id in totals:
            totals[tenant_id].decision_days.update(histogram)
    # Gauges (services published, online, with an API): each tenant's latest day in the
    # period, one index probe per tenant (tenant_kpi_tenant_day) rather than sorting them all.
    latest = TenantKpi.objects.filter(
        tenant_id=OuterRef("pk"), category=category, day__gte=period.start,
        day__lte=period.end).order_by("-day").values("pk")[:1]
    tenants = scope if scope is not None else Tenant.objects.all()
    latest_rows = tenants.order_by().annotate(latest=Subquery(latest)).values("latest")
    for row in TenantKpi.objects.filter(pk__in=latest_rows).order_by().values(
            "tenant_id", *GAUGES):
        if row["tenant_id"] in totals:
            totals[row["tenant_id"]].gauges = {name: row[name] for name in GAUGES}
    return totals


def combine(parts: Iterable[Totals]) -> Totals:
    """The totals of several tenants together (a region, the nation)."""
    whole = Totals()
    for part in parts:
        whole += part
    return whole


# --- Levels --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Unit:
    """One tenant at its level, or a region with its municipalities, or the nation: its totals
    and its population for per-capita figures (None: unknown)."""

    name: str
    totals: Totals
    population: int | None
    tenant: Tenant | None = None

    @property
    def per_1000_residents(self) -> float | None:
        """Cases per 1,000 residents (None without a population)."""
        return per_capita(self.totals.cases, self.population)

    @property
    def per_service(self) -> float | None:
        """Cases per published service (None when none is published)."""
        published = self.totals.gauges.get("services_published", 0)
        return self.totals.cases / published if published else None

    @property
    def cost_per_case(self) -> Decimal | None:
        cases = self.totals.cases
        return (self.totals.cost / cases).quantize(Decimal("0.01")) if cases else None


def per_capita(count: int, population: int | None) -> float | None:
    return count * 1000 / population if population else None


@dataclasses.dataclass
class Levels:
    """The roll-ups of one period and category: every tenant alone, every region with its
    municipalities, and the nation. Built from one `tenant_totals` call."""

    tenants: dict[int, Tenant]
    totals: dict[int, Totals]

    def of_tenant(self, tenant: Tenant) -> Unit:
        return Unit(tenant.name, self.totals.get(tenant.pk, Totals()), tenant.population,
                    tenant)

    @functools.cached_property
    def _children(self) -> dict[int, list[Tenant]]:
        children: dict[int, list[Tenant]] = {}
        for tenant in sorted(self.tenants.values(), key=lambda t: t.name):
            if tenant.parent_id is not None:
                children.setdefault(tenant.parent_id, []).append(tenant)
        return children

    def municipalities(self, region: Tenant) -> list[Tenant]:
        return self._children.get(region.pk, [])

    def of_region(self, region: Tenant) -> Unit:
        """The region's own row and its municipalities'."""
        members = [region, *self.municipalities(region)]
        return Unit(region.name, combine(self.totals.get(t.pk, Totals()) for t in members),
                    region.population, region)

    def regions(self) -> list[Tenant]:
        return sorted((t for t in self.tenants.values() if t.kind == Tenant.Kind.REGION),
                      key=lambda t: t.name)

    def nation(self, name: str = "") -> Unit:
        populations = [r.population for r in self.regions()]
        population = (sum(p for p in populations if p) if populations and all(populations)
                      else None)
        return Unit(name, combine(self.totals.values()), population)


def cached(kind: str, scope_key: str, period: Period, category: str, seconds: int,
           compute: Callable[[], Any]) -> Any:
    """`compute()`, kept `seconds` in the cache under the scope, period and category (0: not
    kept). The figures change once a day, when the daily job writes them, while a national
    year is most of a second of database time: docs/kpi-levels.md."""
    if seconds <= 0 or not scope_key:
        return compute()
    digest = hashlib.sha256(category.encode()).hexdigest()[:16]
    key = f"kpi:{kind}:{scope_key}:{period.start}:{period.end}:{digest}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, seconds)
    return value


def levels(period: Period, category: str = "", scope: QuerySet[Tenant] | None = None, *,
           scope_key: str = "", cache_seconds: int = 0) -> Levels:
    """Roll-ups for the tenants in `scope` (None: every launched tenant): four queries, or one
    when the per-tenant totals of `scope_key` are still cached."""
    tenants_qs = scope if scope is not None else Tenant.objects.launched()
    tenants = {t.pk: t for t in tenants_qs.only("pk", "name", "slug", "kind", "parent_id",
                                                "population", "schema_name")}
    totals = cached("totals", scope_key, period, category, cache_seconds,
                    lambda: tenant_totals(period, category, tenants_qs))
    return Levels(tenants, totals)


# --- Trends --------------------------------------------------------------------------------------

TREND_COUNTS = ("cases_online", "cases_office", "cases_phone", "cases_post",
                "decided_with_deadline", "decided_on_time", "decided", "decided_automatically")


def trend(period: Period, category: str = "", scope: QuerySet[Tenant] | None = None
          ) -> list[tuple[datetime.date, Totals]]:
    """The scope's totals per day (per week from WEEKLY_FROM_DAYS days on), oldest first, every
    day or week of the period present (empty ones too): one query. Histograms and gauges are
    left out (trends show take-up, SLA and automation)."""
    weekly = period.days >= WEEKLY_FROM_DAYS
    bucket = Trunc("day", "week") if weekly else Trunc("day", "day")
    by_bucket: dict[datetime.date, Totals] = {}
    grouped = (_rows(period, category, scope).order_by().annotate(bucket=bucket)
               .values("bucket").annotate(**{f"sum_{n}": Sum(n) for n in TREND_COUNTS}))
    for row in cast(Iterable[dict[str, Any]], grouped):
        t = Totals()
        for name in TREND_COUNTS:
            t.counts[name] = int(row[f"sum_{name}"] or 0)
        key = row["bucket"]
        by_bucket[key.date() if isinstance(key, datetime.datetime) else key] = t
    step = datetime.timedelta(days=7 if weekly else 1)
    first = period.start - datetime.timedelta(days=period.start.weekday()) if weekly \
        else period.start
    points, day = [], first
    while day <= period.end:
        points.append((day, by_bucket.get(day, Totals())))
        day += step
    return points


# --- Benchmarking --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Indicator:
    """One indicator compared across tenants of the same level."""

    key: str
    value: Callable[[Unit], float | None]
    higher_is_better: bool
    percent: bool = False


INDICATORS: dict[str, Indicator] = {i.key: i for i in (
    Indicator("take_up", lambda u: u.totals.take_up, True, percent=True),
    Indicator("sla", lambda u: u.totals.sla_compliance, True, percent=True),
    Indicator("median_days", lambda u: _float(u.totals.decision_time(0.5)), False),
    Indicator("automation", lambda u: u.totals.automation, True, percent=True),
    Indicator("cost_per_case", lambda u: _float(u.cost_per_case), False),
    Indicator("per_1000", lambda u: u.per_1000_residents, True),
)}


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclasses.dataclass
class Ranked:
    unit: Unit
    value: float | None
    rank: int | None  # None: not ranked (no figure, e.g. no population or no cases)


def rank(units: list[Unit], indicator: Indicator) -> list[Ranked]:
    """Best first (equal values share a rank: 1, 2, 2, 4); units without a figure last, not
    ranked, by name."""
    valued = [(u, indicator.value(u)) for u in units]
    present = sorted(((u, v) for u, v in valued if v is not None),
                     key=lambda uv: (-uv[1] if indicator.higher_is_better else uv[1],
                                     uv[0].name))
    ranked: list[Ranked] = []
    for i, (unit, value) in enumerate(present):
        same = ranked and ranked[-1].value == value
        ranked.append(Ranked(unit, value, ranked[-1].rank if same else i + 1))
    missing = sorted((u for u, v in valued if v is None), key=lambda u: u.name)
    return ranked + [Ranked(u, None, None) for u in missing]


@dataclasses.dataclass(frozen=True)
class Distribution:
    """Lowest, quartiles and highest of an indicator across tenants (nearest rank)."""

    lowest: float
    lower_quartile: float
    median: float
    upper_quartile: float
    highest: float
    n: int


def distribution(values: Iterable[float | None]) -> Distribution | None:
    known = sorted(v for v in values if v is not None)
    if not known:
        return None

    def at(q: float) -> float:
        index = max(1, -(-int(q * len(known) * 1000) // 1000)) - 1  # ceil(q * n) - 1
        return known[min(index, len(known) - 1)]

    return Distribution(known[0], at(0.25), at(0.5), at(0.75), known[-1], len(known))


def peers(levels_: Levels, unit_of: Tenant) -> list[Unit]:
    """The units `unit_of` is compared with: the other municipalities of its region (for a
    municipality), or every region as a roll-up (for a region)."""
    if unit_of.kind == Tenant.Kind.MUNICIPALITY:
        return [levels_.of_tenant(t) for t in levels_.tenants.values()
                if t.kind == Tenant.Kind.MUNICIPALITY and t.parent_id == unit_of.parent_id]
    return [levels_.of_region(r) for r in levels_.regions()]


def scope_of(tenant: Tenant | None) -> QuerySet[Tenant]:
    """Tenants a roll-up of `tenant` reads: a region and its municipalities; None: all."""
    launched = Tenant.objects.launched()
    if tenant is None:
        return launched
    return launched.filter(Q(pk=tenant.pk) | Q(parent_id=tenant.pk))


def categories() -> list[str]:
    """The service categories that have KPI rows (for the filter)."""
    return list(TenantKpi.objects.exclude(category="").order_by("category")
                .values_list("category", flat=True).distinct()[:200])
