"""KPIs as open data: a tenant's snapshot rows summed per day or month, with small numbers
withheld. What the open API (`GET /api/v1/kpis`, services/api/public/kpis.py) and the public
page "How we are doing" (services/kpis/public_page.py) publish, and nothing else: counts,
ratios and times of the tenant's services, never a case, an applicant, a member of staff or a
feedback comment (the snapshots hold none of them).

The suppression rule (docs/open-data.md), with T = DGBOX_KPI_SUPPRESS_BELOW:

1. A count from 1 to T-1 is withheld (null). Zero is published: it identifies nobody.
2. A count that is part of another published count is withheld as well when the rest of it
   (whole - part: decided late, decided by a person) is from 1 to T-1, since subtracting the
   two would reveal that small number. The whole is kept.
3. A figure derived from counts (a ratio, the estimated cost and saving, a time to decision)
   is published only when every count it is computed from is published, and a ratio only when
   the rest of its denominator is zero or T or more: take-up 95% of 100 cases says that 5 were
   not online. Costs are a weighted sum of the four channels, so one withheld channel withholds
   them. Times to decision need T decisions or more (a median of three is one person's).
Every withheld field is named in the row's `suppressed` list; a null not named there means
"nothing to divide" (no cases, no decisions).

The rule works row by row. Differencing across rows (a month minus its published days, the
tenant minus its published services) can still narrow a withheld count down: docs/open-data.md
says so and what an operator can do (a higher threshold).
"""

import dataclasses
import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from tenants.kpis import figures

from .models import KpiSnapshot

DAY, MONTH = "day", "month"
GRANULARITIES = (DAY, MONTH)
#: The longest period one request may cover, by granularity (days): a year of days, ten years
#: of months (the answer stays small).
MAX_SPAN_DAYS = {DAY: 366, MONTH: 3660}

#: Published counts, in the order of the CSV's columns.
COUNTS = (
    "cases_online", "cases_office", "cases_phone", "cases_post",
    "decided", "decided_with_deadline", "decided_on_time", "decided_automatically",
    "page_views", "forms_started", "feedback_useful", "feedback_not_useful",
)
CHANNEL_COUNTS = tuple(f"cases_{channel}" for channel in figures.CHANNELS)
#: (part, whole): the part is withheld when whole - part is a small number (rule 2).
NESTED = (("decided_on_time", "decided_with_deadline"),
          ("decided_with_deadline", "decided"),
          ("decided_automatically", "decided"))
#: Derived figures: name -> the counts it is computed from (rule 3).
DERIVED = {
    "cost": CHANNEL_COUNTS, "savings": CHANNEL_COUNTS,
    "take_up": CHANNEL_COUNTS,
    "sla_compliance": ("decided_on_time", "decided_with_deadline"),
    "automation": ("decided_automatically", "decided"),
    "usefulness": ("feedback_useful", "feedback_not_useful"),
    "median_days": ("decided",), "p90_days": ("decided",),
}
RATIOS = ("take_up", "sla_compliance", "automation", "usefulness")
#: Every published figure of a row, in the CSV's order.
FIELDS = (*COUNTS, "cost", "savings", *RATIOS, "median_days", "p90_days")


def threshold() -> int:
    return max(1, settings.DGBOX_KPI_SUPPRESS_BELOW)


def small(value: int, below: int) -> bool:
    """A count that could identify someone: 1 to below-1."""
    return figures.suppress(value, below) is None


def _derived(totals: figures.Totals) -> dict[str, float | int | None]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 4)

    return {"cost": float(totals.cost.quantize(Decimal("0.01"))),
            "savings": float(totals.savings.quantize(Decimal("0.01"))),
            "take_up": rounded(totals.take_up), "sla_compliance": rounded(totals.sla_compliance),
            "automation": rounded(totals.automation), "usefulness": rounded(totals.usefulness),
            "median_days": totals.decision_time(0.5), "p90_days": totals.decision_time(0.9)}


def _ratio_rest(name: str, counts: dict[str, int]) -> int:
    """The rest of a ratio's denominator once its numerator is taken away."""
    if name == "take_up":
        return sum(counts[c] for c in CHANNEL_COUNTS) - counts["cases_online"]
    if name == "sla_compliance":
        return counts["decided_with_deadline"] - counts["decided_on_time"]
    if name == "automation":
        return counts["decided"] - counts["decided_automatically"]
    return counts["feedback_not_useful"]  # usefulness: the "no" answers


def publish(totals: figures.Totals, below: int) -> dict[str, Any]:
    """The published figures of `totals`, the suppression rule applied: {field: value or
    None, ..., "suppressed": [withheld fields]}."""
    counts = {name: totals.counts[name] for name in COUNTS}
    withheld = {name for name, value in counts.items() if small(value, below)}
    for part, whole in NESTED:
        if small(counts[whole] - counts[part], below):
            withheld.add(part)
    derived = _derived(totals)
    for name, sources in DERIVED.items():
        if withheld.intersection(sources):
            withheld.add(name)
        elif name in RATIOS and small(_ratio_rest(name, counts), below):
            withheld.add(name)
    decisions = sum(totals.decision_days.values())
    if decisions and decisions < below:
        withheld.update(("median_days", "p90_days"))
    values: dict[str, Any] = {**counts, **derived}
    row = {name: None if name in withheld else values[name] for name in FIELDS}
    row["suppressed"] = [name for name in FIELDS if name in withheld]
    return row


@dataclasses.dataclass(frozen=True)
class Period:
    label: str
    first: datetime.date
    last: datetime.date


def periods(first: datetime.date, last: datetime.date, granularity: str) -> list[Period]:
    """Every day, or every calendar month, from `first` to `last` (both included; a month
    cut by either end is cut there too)."""
    out: list[Period] = []
    if granularity == DAY:
        day = first
        while day <= last:
            out.append(Period(day.isoformat(), day, day))
            day += datetime.timedelta(days=1)
        return out
    start = first
    while start <= last:
        following = (start.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
        end = min(last, following - datetime.timedelta(days=1))
        out.append(Period(start.strftime("%Y-%m"), start, end))
        start = following
    return out


def snapshot_rows(first: datetime.date, last: datetime.date, *, service: int | None = None,
                  category: str = "") -> QuerySet[KpiSnapshot]:
    """The snapshot rows behind a publication: the tenant's overall rows, or one service's,
    or the rows of a category's services."""
    rows = KpiSnapshot.objects.filter(day__range=(first, last))
    if service is not None:
        rows = rows.filter(page_id=service)
    elif category:
        rows = rows.filter(page__isnull=False, category=category)
    else:
        rows = rows.filter(page__isnull=True)
    if service is not None and category:
        rows = rows.filter(category=category)
    return rows.order_by("day")


def figures_by_period(first: datetime.date, last: datetime.date, granularity: str, *,
                      service: int | None = None, category: str = "",
                      below: int | None = None) -> list[dict[str, Any]]:
    """One published row per period, periods without snapshots included (all zero)."""
    spans = periods(first, last, granularity)
    if granularity == DAY:
        def key(day: datetime.date) -> str:
            return day.isoformat()
    else:
        def key(day: datetime.date) -> str:
            return day.strftime("%Y-%m")
    return _published(spans, key, service=service, category=category, below=below)


def figures_over(first: datetime.date, last: datetime.date, *, service: int | None = None,
                 category: str = "", below: int | None = None) -> dict[str, Any]:
    """The published figures of the whole period, as one row."""
    whole = Period(f"{first.isoformat()}/{last.isoformat()}", first, last)
    return _published([whole], lambda day: whole.label, service=service, category=category,
                      below=below)[0]


def _published(spans: list[Period], key: Callable[[datetime.date], str], *,
               service: int | None, category: str, below: int | None) -> list[dict[str, Any]]:
    below = threshold() if below is None else below
    totals = {p.label: figures.Totals() for p in spans}
    for row in snapshot_rows(spans[0].first, spans[-1].last, service=service,
                             category=category).values("day", *COUNTS, "decision_days", "cost",
                                                       "savings"):
        totals[key(row["day"])].add(row)
    return [{"period": p.label, "from": p.first.isoformat(), "to": p.last.isoformat(),
             **publish(totals[p.label], below)} for p in spans]
