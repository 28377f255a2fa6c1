"""What the tenant's KPI dashboard shows (Performance in its Wagtail admin, views.py): the
figures of a period, overall or for one service or register category, per service, and by day
(or by week over long periods), read from the `KpiSnapshot` rows the daily KPI job writes.

Reads only. A fixed number of queries whatever the period or the number of services:
PostgreSQL sums the rows grouped by page (and by day or week for the trend) and merges the
decision-time histograms; Python derives the indicators with tenants/kpis/figures.py, so the
dashboard's ratios are the same ratios of sums the console and the open data show.
"""

import dataclasses
import datetime
from collections import Counter
from typing import Any

from django import forms
from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, F, Max, QuerySet, Sum
from django.db.models.functions import TruncWeek
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from services.cases.escalation import today
from tenants import registers
from tenants.kpis.figures import CHANNELS, COUNTS, GAUGES, Totals, ratio
from tenants.kpis.histograms import merged_by
from tenants.models import ChannelCostModel

from .models import KpiSnapshot

#: The periods offered, in days ending today (the tenant's today).
PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
#: A longer period's trend is drawn by week (a point a day would be unreadable).
WEEKLY_AFTER = 92
#: The longest period a from-to range may span (bounds the trend's points: 5 years by week).
LONGEST = 5 * 366
#: The source document's target for digital take-up.
TAKE_UP_TARGET = (0.8, 0.9)


class DashboardFilters(forms.Form):
    """A plain GET form: a period (or from-to dates, which win), a service, a category."""

    period = forms.TypedChoiceField(
        label=_("Period"), coerce=int, required=False, empty_value=DEFAULT_PERIOD,
        initial=DEFAULT_PERIOD,
        choices=[(7, _("Last 7 days")), (30, _("Last 30 days")), (90, _("Last 90 days")),
                 (365, _("Last 365 days"))])
    since = forms.DateField(label=_("From (date)"), required=False,
                            help_text=_("Dates, if given, replace the period."),
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To (date)"), required=False,
                            help_text=_("Blank: today."),
                            widget=forms.DateInput(attrs={"type": "date"}))
    service = forms.TypedChoiceField(label=_("Service"), coerce=int, required=False,
                                     empty_value=None)
    category = forms.ChoiceField(label=_("Category"), required=False)

    def __init__(self, data: Any, *, services: list[tuple[int, str]],
                 categories: list[tuple[str, str]]) -> None:
        super().__init__(data)
        self.fields["service"].choices = [("", _("All services")), *services]
        self.fields["category"].choices = [("", _("All categories")), *categories]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if until and not since and "since" not in self.errors:
            raise forms.ValidationError(_("Give the start date too, or leave both dates "
                                          "blank and choose a period."))
        if since and until and since > until:
            raise forms.ValidationError(_("The start date is after the end date."))
        if since and (until or today()) < since:
            raise forms.ValidationError(_("The start date is in the future."))
        if since and ((until or today()) - since).days >= LONGEST:
            raise forms.ValidationError(_("Choose at most five years."))
        return cleaned


@dataclasses.dataclass
class Scope:
    """The period and the rows asked for (a valid form's, else the default period)."""

    since: datetime.date
    until: datetime.date
    service: int | None = None
    category: str = ""

    @classmethod
    def of(cls, form: DashboardFilters) -> "Scope":
        end = today()
        if not form.is_valid():
            return cls(end - datetime.timedelta(days=DEFAULT_PERIOD - 1), end)
        data = form.cleaned_data
        if data["since"]:
            return cls(data["since"], data["until"] or end, data["service"], data["category"])
        days = data["period"] or DEFAULT_PERIOD
        return cls(end - datetime.timedelta(days=days - 1), end, data["service"],
                   data["category"])

    @property
    def filtered(self) -> bool:
        return bool(self.service or self.category)

    @property
    def days(self) -> int:
        return (self.until - self.since).days + 1

    @property
    def weekly(self) -> bool:
        return self.days > WEEKLY_AFTER

    def services(self) -> QuerySet[KpiSnapshot]:
        """The service rows (page set) of the period that the filters keep."""
        rows = KpiSnapshot.objects.filter(day__gte=self.since, day__lte=self.until,
                                          page__isnull=False)
        if self.service:
            rows = rows.filter(page_id=self.service)
        if self.category:
            rows = rows.filter(category=self.category)
        return rows

    def overall(self) -> QuerySet[KpiSnapshot]:
        """The tenant's overall rows (page empty) of the period."""
        return KpiSnapshot.objects.filter(day__gte=self.since, day__lte=self.until,
                                          page__isnull=True)

    def rows(self) -> QuerySet[KpiSnapshot]:
        """Every row the dashboard adds up: the kept service rows, and the overall rows
        unless a filter narrows the figures to services."""
        return self.services() if self.filtered else self.services() | self.overall()

    def headline(self) -> QuerySet[KpiSnapshot]:
        """The rows the headline figures and the trend add up: the tenant's overall rows, or
        the filtered service rows."""
        return self.services() if self.filtered else self.overall()


class DecisionTimes:
    """Days to decision of something with `totals`: median and 90th percentile."""

    totals: Totals

    @property
    def median(self) -> int | None:
        return self.totals.decision_time(0.5)

    @property
    def p90(self) -> int | None:
        return self.totals.decision_time(0.9)


@dataclasses.dataclass
class ServiceFigures(DecisionTimes):
    page_id: int | None
    title: str
    totals: Totals
    category: str = ""
    #: The category's name in the admin's language (set by the view).
    category_name: str = ""


@dataclasses.dataclass
class TrendPoint:
    start: datetime.date
    cases: int | None = None
    take_up: float | None = None
    sla: float | None = None


@dataclasses.dataclass
class Dashboard(DecisionTimes):
    scope: Scope
    totals: Totals
    services: list[ServiceFigures]
    trend: list[TrendPoint]
    gauges: dict[str, int]
    cost_models: list[dict[str, Any]]
    any_data: bool

    @property
    def empty(self) -> bool:
        return not self.totals.rows

    @property
    def take_up_target(self) -> str:
        """"below", "within" or "above" the document's 80-90% ("" without cases)."""
        take_up = self.totals.take_up
        if take_up is None:
            return ""
        low, high = TAKE_UP_TARGET
        return "below" if take_up < low else ("above" if take_up > high else "within")

    @property
    def services_online_share(self) -> float | None:
        return ratio(self.gauges.get("services_online", 0),
                     self.gauges.get("services_published", 0))

    @property
    def services_api_share(self) -> float | None:
        return ratio(self.gauges.get("services_api", 0),
                     self.gauges.get("services_published", 0))

    def channel_mix(self) -> list[tuple[str, int, float | None]]:
        """(channel, cases, share) in CHANNELS order."""
        mix = self.totals.channel_mix()
        return [(channel, mix[channel], ratio(mix[channel], self.totals.cases))
                for channel in CHANNELS]

    def funnel(self) -> list[tuple[str, int, float | None, float | None]]:
        """(step, count, share of the step before, share of the page views)."""
        steps = self.totals.funnel()
        views = steps[0][1]
        return [(name, count, ratio(count, steps[i - 1][1]) if i else None,
                 ratio(count, views) if i else None)
                for i, (name, count) in enumerate(steps)]

    def sla_by_service(self) -> list[ServiceFigures]:
        """Services with decisions that had a deadline, worst compliance first."""
        with_deadline = [s for s in self.services if s.totals.counts["decided_with_deadline"]]
        return sorted(with_deadline, key=lambda s: (s.totals.sla_compliance or 0, s.title))


def choices() -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    """The services and categories the tenant's snapshots name (one query, and one for the
    categories' names): what the filters offer."""
    seen = KpiSnapshot.objects.filter(page__isnull=False).values_list(
        "page_id", "page__title", "category").distinct()
    services: dict[int, str] = {}
    codes: set[str] = set()
    for page_id, title, category in seen:
        services[page_id] = title
        if category:
            codes.add(category)
    names = _category_names(codes)
    return (sorted(services.items(), key=lambda item: (item[1].lower(), item[0])),
            sorted(((code, names.get(code, code)) for code in codes),
                   key=lambda item: item[1].lower()))


def _category_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    language = (get_language() or "ru")[:2]
    model = registers.REGISTERS["categories"]
    return {entry.code: entry.name(language) for entry in model.objects.filter(code__in=codes)}


def build(scope: Scope) -> Dashboard:
    """The dashboard of `scope`: a fixed number of queries, whatever the period or the
    number of services."""
    groups = _sums_by_page(scope)
    histograms = merged_by(scope.rows(), "page_id")
    by_page: dict[int | None, ServiceFigures] = {}
    for group in groups:
        totals = Totals().add(group)
        totals.rows = group["rows"]
        totals.decision_days = histograms.get(group["page_id"], Counter())
        by_page[group["page_id"]] = ServiceFigures(group["page_id"], group["page__title"] or "",
                                                   totals, group["category"] or "")
    services = sorted((s for key, s in by_page.items() if key is not None),
                      key=lambda s: (-s.totals.cases, s.title.lower()))
    if scope.filtered:
        totals = Totals()
        for service in services:
            totals += service.totals
    else:
        overall = by_page.get(None)
        totals = overall.totals if overall else Totals()
    versions = sorted({v for group in groups if (not scope.filtered) == (group["page_id"] is None)
                       for v in group["versions"] or () if v is not None})
    cost_models = list(ChannelCostModel.objects.filter(version__in=versions)
                       .order_by("version").values("version", "unit", "valid_from")
                       ) if versions else []
    any_data = bool(groups) or KpiSnapshot.objects.exists()
    return Dashboard(scope=scope, totals=totals, services=services, trend=_trend(scope),
                     gauges=_gauges(scope), cost_models=cost_models, any_data=any_data)


def _sums_by_page(scope: Scope) -> list[dict[str, Any]]:
    """Sums of the period's rows per page (page None: the tenant's overall rows)."""
    return list(scope.rows().values("page_id", "page__title").annotate(
        **{name: Sum(name) for name in COUNTS}, cost=Sum("cost"), savings=Sum("savings"),
        category=Max("category"), rows=Count("pk"), versions=ArrayAgg(
            "cost_model_version", distinct=True, default=[])).order_by())


def _trend(scope: Scope) -> list[TrendPoint]:
    """Take-up and SLA compliance per day (per week over long periods), every day or week of
    the period listed, None where nothing was computed."""
    bucket = TruncWeek("day") if scope.weekly else F("day")
    sums = scope.headline().annotate(bucket=bucket).values("bucket").annotate(
        **{f"cases_{c}": Sum(f"cases_{c}") for c in CHANNELS},
        on_time=Sum("decided_on_time"), with_deadline=Sum("decided_with_deadline")).order_by()
    found: dict[datetime.date, dict[str, Any]] = {row["bucket"]: row for row in sums}
    start = (scope.since - datetime.timedelta(days=scope.since.weekday()) if scope.weekly
             else scope.since)
    step = datetime.timedelta(days=7 if scope.weekly else 1)
    points = []
    day = start
    while day <= scope.until:
        row = found.get(day)
        point = TrendPoint(day)
        if row is not None:
            cases = sum(row[f"cases_{c}"] or 0 for c in CHANNELS)
            point.cases = cases
            point.take_up = ratio(row["cases_online"] or 0, cases)
            point.sla = ratio(row["on_time"] or 0, row["with_deadline"] or 0)
        points.append(point)
        day += step
    return points


def _gauges(scope: Scope) -> dict[str, int]:
    """The catalogue's gauges on the latest computed day of the period (overall rows)."""
    latest = (scope.overall().order_by("-day").values(*GAUGES, "day").first())
    return dict(latest) if latest else {}


def cost_unit(models: list[dict[str, Any]]) -> str:
    """The unit the costs are in: the models' currency if they agree, else relative units."""
    units = {m["unit"] for m in models}
    return units.pop() if len(units) == 1 else ""

