"""Computing one day's KPIs in the current tenant's schema (docs/kpis.md says what each means).

`compute_day(day)` writes, in one transaction, one `KpiSnapshot` per service page that has an
online service or had cases, decisions, views or feedback that day, the tenant's overall row
(page empty, with the catalogue's gauges), and their public copies (`tenants.models.TenantKpi`:
the overall row and one row per service category) for roll-ups across tenants. Computing a day
again replaces all of them. A day is the tenant's (its time zone): 00:00 to 24:00 there.

Everything is aggregated in PostgreSQL, grouped by page (and channel, or days to decision):
about fifteen queries whatever the number of cases.

- cases by channel: cases submitted that day, by `Case.channel`;
- decided: cases closed that day in a final state other than a withdrawal (the platform's
  meaning of "decided": services/cases/engine.py, services/webhooks/events.py);
  decided_with_deadline: of them, those with a due date; decided_on_time: closed on or before
  it (the due date is in working days and moved on while the case waited for the applicant:
  services/cases/sla.py, so a plain date comparison is the SLA);
- decided_automatically: the transition into the final state was taken by a rule
  (a status CaseEvent marked automatic, to the case's final state);
- decision_days: calendar days from the day submitted to the day decided (tenant's days);
- feedback: "was this page useful?" answers given that day: on each service page for its row,
  on every page of the site for the overall row;
- the funnel: `FunnelCount` (collected from the counters first while they are kept);
- cost and savings: `tenants.kpis.figures.cost_and_savings` with the `ChannelCostModel` in
  force that day (the highest version valid from that day or before), whose version is kept;
- gauges (overall and category rows only): services published (live service pages without
  a view restriction), services online end to end (of them, those whose published online form
  is open for applications), services with an open API (of those, the ones a citizen's app can
  apply to through /api/v1: all of them when the tenant has a usable API key of a client with
  the scope applications:submit, else none). Gauges are the catalogue's state when computed:
  recomputing a day older than yesterday keeps the gauges stored for it.
"""

import datetime
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, DateField, Exists, F, Func, IntegerField, OuterRef, Q
from django.db.models.fields.json import KT
from django.db.models.functions import TruncDate
from django.utils import timezone

from cms.models import PageFeedback, ServicePage
from tenants.db import connection
from tenants.kpis import figures
from tenants.models import ChannelCostModel, Tenant, TenantKpi

from ..api.models import ApiKey
from ..api.scopes import Scope
from ..cases.escalation import tenant_zone
from ..cases.escalation import today as tenant_today
from ..cases.models import Case, CaseEvent
from ..forms.models import OnlineService
from . import counters
from .models import FunnelCount, KpiSnapshot

#: The standard workflow's withdrawal: a final state that is not a decision.
WITHDRAWN = "withdrawn"


class DaysBetween(Func):
    """`later - earlier` of two dates, in whole days (PostgreSQL's date subtraction)."""

    template = "(%(expressions)s)"
    arg_joiner = " - "
    output_field = IntegerField()


def day_bounds(day: datetime.date, zone: zoneinfo.ZoneInfo
               ) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min,
                                    tzinfo=zone)
    return start, end


def cost_model_on(day: datetime.date) -> ChannelCostModel | None:
    """The channel cost model in force on `day`: the highest version valid from it or before."""
    return (ChannelCostModel.objects.filter(valid_from__lte=day).order_by("-version")
            .first())


def _new_row(day: datetime.date) -> dict[str, Any]:
    return {**dict.fromkeys(figures.COUNTS, 0), "day": day, "decision_days": Counter()}


def _cases(start: datetime.datetime, end: datetime.datetime,
           rows: dict[int, dict[str, Any]], new: Any) -> None:
    received = (Case.objects.filter(submitted_at__gte=start, submitted_at__lt=end)
                .values_list("service__page_id", "channel").annotate(n=Count("pk"))
                .order_by())
    for page_id, channel, n in received:
        if channel in figures.CHANNELS:
            rows.setdefault(page_id, new())[f"cases_{channel}"] += n


def _decisions(start: datetime.datetime, end: datetime.datetime, zone: zoneinfo.ZoneInfo,
               rows: dict[int, dict[str, Any]], new: Any) -> None:
    automatic = (CaseEvent.objects.annotate(to=KT("data__to"))
                 .filter(case=OuterRef("pk"), kind=CaseEvent.Kind.STATUS,
                         data__automatic=True, to=OuterRef("status")))
    decided = (Case.objects.filter(closed_at__gte=start, closed_at__lt=end)
               .exclude(status=WITHDRAWN)
               .annotate(closed_day=TruncDate("closed_at", tzinfo=zone, output_field=DateField()),
                         days=DaysBetween(F("closed_day"), TruncDate(
                             "submitted_at", tzinfo=zone, output_field=DateField())))
               .values("service__page_id", "days")
               .annotate(decided=Count("pk"),
                         with_deadline=Count("pk", filter=Q(due_date__isnull=False)),
                         on_time=Count("pk", filter=Q(closed_day__lte=F("due_date"))),
                         automatically=Count("pk", filter=Exists(automatic)))
               .order_by())
    for found in decided:
        row = rows.setdefault(found["service__page_id"], new())
        row["decided"] += found["decided"]
        row["decided_with_deadline"] += found["with_deadline"]
        row["decided_on_time"] += found["on_time"]
        row["decided_automatically"] += found["automatically"]
        row["decision_days"][max(0, found["days"])] += found["decided"]


def _feedback(start: datetime.datetime, end: datetime.datetime
              ) -> dict[int, tuple[int, int]]:
    answers = (PageFeedback.objects.filter(created_at__gte=start, created_at__lt=end)
               .values_list("page_id").annotate(yes=Count("pk", filter=Q(useful=True)),
                                                no=Count("pk", filter=Q(useful=False)))
               .order_by())
    return {page_id: (useful, not_useful) for page_id, useful, not_useful in answers}


def _gauges() -> dict[str, Counter[str]]:
    """{gauge: {category: services}} of the catalogue now ('' for services without one)."""
    published = ServicePage.objects.live().public()
    by_category: dict[str, Counter[str]] = {}
    by_category["services_published"] = Counter(dict(
        published.values_list("category").annotate(n=Count("pk")).order_by()))
    online = published.filter(Exists(OnlineService.objects.filter(page=OuterRef("pk"),
                                                                  accepting=True)))
    by_category["services_online"] = Counter(dict(
        online.values_list("category").annotate(n=Count("pk")).order_by()))
    api_open = (ApiKey.objects.usable()
                .filter(client__scopes__contains=[Scope.SUBMIT_APPLICATIONS]).exists())
    by_category["services_api"] = (Counter(by_category["services_online"]) if api_open
                                   else Counter())
    return by_category


def _with_costs(row: dict[str, Any], model: ChannelCostModel | None) -> dict[str, Any]:
    cost, savings = figures.cost_and_savings(
        {channel: row[f"cases_{channel}"] for channel in figures.CHANNELS}, model)
    return {**row, "cost": cost, "savings": savings,
            "cost_model_version": model.version if model is not None else None,
            "decision_days": {str(days): n for days, n in sorted(row["decision_days"].items())}}


def _add(into: dict[str, Any], row: dict[str, Any]) -> None:
    for name in figures.COUNTS:
        into[name] += row[name]
    into["decision_days"].update(row["decision_days"])


def compute_day(day: datetime.date, *, collect: bool = True) -> KpiSnapshot:
    """Compute `day`'s KPIs of the current tenant and store them (replacing any stored for
    that day); returns the overall row. `collect`: first copy the funnel's counters of that
    day into `FunnelCount` while the cache still keeps them."""
    tenant = connection.tenant
    if not isinstance(tenant, Tenant):
        raise RuntimeError("compute_day() runs in a tenant's schema")
    zone = tenant_zone(tenant)
    if collect and day in counters.counter_days():
        counters.collect_funnel([day])
    start, end = day_bounds(day, zone)

    def new() -> dict[str, Any]:
        return _new_row(day)

    rows: dict[int, dict[str, Any]] = {}
    _cases(start, end, rows, new)
    _decisions(start, end, zone, rows, new)
    for page_id, views, started in FunnelCount.objects.filter(day=day).values_list(
            "page_id", "views", "forms_started"):
        row = rows.setdefault(page_id, new())
        row["page_views"] += views
        row["forms_started"] += started
    feedback = _feedback(start, end)
    overall = new()
    for useful, not_useful in feedback.values():
        overall["feedback_useful"] += useful
        overall["feedback_not_useful"] += not_useful
    service_pages = dict(ServicePage.objects.filter(
        Q(pk__in=[*rows, *feedback]) | Q(online_services__isnull=False))
        .values_list("pk", "category").distinct())
    for page_id in service_pages:
        row = rows.setdefault(page_id, new())
        row["feedback_useful"], row["feedback_not_useful"] = feedback.get(page_id, (0, 0))
    # Cases of a service whose page is gone (cannot happen while cases protect their form,
    # but a row must never be lost): counted in the overall row only.
    by_category: dict[str, dict[str, Any]] = defaultdict(new)
    for page_id, row in rows.items():
        _add(overall, {**row, "feedback_useful": 0, "feedback_not_useful": 0})
        category = service_pages.get(page_id, "")
        if category:
            _add(by_category[category], row)

    gauges = _kept_gauges(tenant, day) or _gauges()
    for category in set().union(*gauges.values()) - {""}:
        by_category.setdefault(category, new())
    model = cost_model_on(day)
    now = timezone.now()
    snapshots = [KpiSnapshot(page_id=page_id, category=service_pages.get(page_id, ""),
                             computed_at=now, **_with_costs(row, model))
                 for page_id, row in sorted(rows.items()) if page_id in service_pages]
    overall_gauges = {name: sum(counts.values()) for name, counts in gauges.items()}
    snapshots.append(KpiSnapshot(page=None, category="", computed_at=now,
                                 **_with_costs(overall, model), **overall_gauges))
    public = [TenantKpi(tenant=tenant, schema_name=tenant.schema_name, category="",
                        computed_at=now, **_with_costs(overall, model), **overall_gauges)]
    public += [TenantKpi(tenant=tenant, schema_name=tenant.schema_name, category=category,
                         computed_at=now, **_with_costs(row, model),
                         **{name: counts[category] for name, counts in gauges.items()})
               for category, row in sorted(by_category.items())]
    with transaction.atomic():
        KpiSnapshot.objects.filter(day=day).delete()
        KpiSnapshot.objects.bulk_create(snapshots)
        TenantKpi.objects.filter(schema_name=tenant.schema_name, day=day).delete()
        TenantKpi.objects.bulk_create(public)
    return snapshots[-1]


def _kept_gauges(tenant: Tenant, day: datetime.date) -> dict[str, Counter[str]] | None:
    """The gauges stored for `day` when it is older than yesterday (the catalogue's state then
    is not kept anywhere else); None to measure them now."""
    if day >= tenant_today() - datetime.timedelta(days=1):
        return None
    stored = {row["category"]: row for row in TenantKpi.objects.filter(
        schema_name=tenant.schema_name, day=day).values("category", *figures.GAUGES)}
    if "" not in stored:
        return None
    kept: dict[str, Counter[str]] = {}
    for name in figures.GAUGES:
        counts = Counter({category: row[name] for category, row in stored.items() if category})
        counts[""] = stored[""][name] - sum(counts.values())  # services without a category
        kept[name] = counts
    return kept


def compute_days(days: Iterable[datetime.date]) -> list[KpiSnapshot]:
    return [compute_day(day) for day in days]


def yesterday() -> datetime.date:
    """The tenant's yesterday (its time zone)."""
    return tenant_today() - datetime.timedelta(days=1)

