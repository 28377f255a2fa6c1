"""KPI arithmetic on snapshot rows (`tenants.models.KpiFigures`): sums that stay exact across
days, services, tenants and levels, and the indicators derived from them.

Indicators are ratios of sums, never averages of ratios: a region's take-up is its
municipalities' online cases over all their cases, not the mean of their take-ups. Times to
decision are kept as histograms of whole days, so a median over any period or level is exact
(to the day) without keeping one row per case.
"""

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

#: Channels in the order they are shown, and the cost model field of each.
CHANNELS = ("online", "office", "phone", "post")
#: Counts that add up (KpiFigures' integer fields, less the gauges).
COUNTS = (
    "cases_online", "cases_office", "cases_phone", "cases_post",
    "decided", "decided_with_deadline", "decided_on_time", "decided_automatically",
    "page_views", "forms_started", "feedback_useful", "feedback_not_useful",
)
#: Gauges of the catalogue: on a day they are the day's value; over a period, the latest.
GAUGES = ("services_published", "services_online", "services_api")
#: The source document's relative costs per transaction: digital 1, telephone 20, post 30,
#: face to face 50 (the first `ChannelCostModel`'s values).
DEFAULT_COSTS: Mapping[str, Decimal] = {"online": Decimal(1), "phone": Decimal(20),
                                        "post": Decimal(30), "office": Decimal(50)}


class CostModel(Protocol):
    online: Decimal
    phone: Decimal
    post: Decimal
    office: Decimal


@dataclasses.dataclass
class Totals:
    """Sums of KPI rows, and the indicators derived from them (None: nothing to divide)."""

    counts: Counter[str] = dataclasses.field(default_factory=Counter)
    decision_days: Counter[int] = dataclasses.field(default_factory=Counter)
    gauges: dict[str, int] = dataclasses.field(default_factory=dict)
    cost: Decimal = Decimal(0)
    savings: Decimal = Decimal(0)
    rows: int = 0

    def add(self, row: Any) -> "Totals":
        """Add one row: a `KpiFigures` instance or a dict with its field names."""
        get = row.get if isinstance(row, Mapping) else (lambda name, default=None:
                                                        getattr(row, name, default))
        for name in COUNTS:
            self.counts[name] += int(get(name, 0) or 0)
        for days, cases in (get("decision_days", None) or {}).items():
            self.decision_days[int(days)] += int(cases)
        self.cost += Decimal(get("cost", 0) or 0)
        self.savings += Decimal(get("savings", 0) or 0)
        # Gauges: the latest day's value wins (rows of one tenant, any order).
        day = get("day", None)
        if day is not None and (self.gauges.get("_day") is None or day >= self.gauges["_day"]):
            self.gauges.update({name: int(get(name, 0) or 0) for name in GAUGES}, _day=day)
        self.rows += 1
        return self

    def __iadd__(self, other: "Totals") -> "Totals":
        """Merge totals of different tenants (gauges add up across tenants)."""
        self.counts.update(other.counts)
        self.decision_days.update(other.decision_days)
        for name in GAUGES:
            self.gauges[name] = self.gauges.get(name, 0) + other.gauges.get(name, 0)
        self.cost += other.cost
        self.savings += other.savings
        self.rows += other.rows
        return self

    # --- indicators ---------------------------------------------------------------------------
    @property
    def cases(self) -> int:
        return sum(self.counts[f"cases_{channel}"] for channel in CHANNELS)

    def channel_mix(self) -> dict[str, int]:
        return {channel: self.counts[f"cases_{channel}"] for channel in CHANNELS}

    @property
    def take_up(self) -> float | None:
        """Share of cases received online (the document's target: 80-90%)."""
        return ratio(self.counts["cases_online"], self.cases)

    @property
    def sla_compliance(self) -> float | None:
        return ratio(self.counts["decided_on_time"], self.counts["decided_with_deadline"])

    @property
    def automation(self) -> float | None:
        return ratio(self.counts["decided_automatically"], self.counts["decided"])

    @property
    def usefulness(self) -> float | None:
        answers = self.counts["feedback_useful"] + self.counts["feedback_not_useful"]
        return ratio(self.counts["feedback_useful"], answers)

    def decision_time(self, quantile: float) -> int | None:
        """Days to decision at `quantile` (0.5: median; 0.9: 90th percentile)."""
        return histogram_quantile(self.decision_days, quantile)

    def funnel(self) -> list[tuple[str, int]]:
        """Service page views -> forms started -> submitted online -> decided."""
        return [("page_views", self.counts["page_views"]),
                ("forms_started", self.counts["forms_started"]),
                ("submitted", self.counts["cases_online"]),
                ("decided", self.counts["decided"])]


def total(rows: Iterable[Any]) -> Totals:
    totals = Totals()
    for row in rows:
        totals.add(row)
    return totals


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def histogram_quantile(histogram: Mapping[int, int], quantile: float) -> int | None:
    """The smallest number of days d such that at least `quantile` of the cases took d days or
    fewer (the nearest-rank definition: exact, never interpolated between days)."""
    n = sum(histogram.values())
    if not n:
        return None
    rank = max(1, -(-int(quantile * n * 1000) // 1000))  # ceil(q * n) without float drift
    seen = 0
    for days in sorted(histogram):
        seen += histogram[days]
        if seen >= rank:
            return days
    return max(histogram)


def cost_and_savings(cases_by_channel: Mapping[str, int], model: CostModel | None
                     ) -> tuple[Decimal, Decimal]:
    """Estimated cost of the cases under `model`, and the saving against handling every one of
    them at an office (the dearest channel in the document's model)."""
    costs = ({channel: Decimal(getattr(model, channel)) for channel in CHANNELS}
             if model is not None else dict(DEFAULT_COSTS))
    cost = sum((costs[channel] * cases_by_channel.get(channel, 0) for channel in CHANNELS),
               Decimal(0))
    every_case_at_an_office = costs["office"] * sum(cases_by_channel.get(c, 0) for c in CHANNELS)
    return cost, every_case_at_an_office - cost


def suppress(value: int, threshold: int) -> int | None:
    """Open data publishes no count under `threshold` (small numbers can identify people):
    None instead, shown as "fewer than N". Zero is published: it identifies nobody."""
    return value if value == 0 or value >= threshold else None
