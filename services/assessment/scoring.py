"""Scores of a round, from its indicators' levels. Pure arithmetic, no database.

The rule (docs/assessment.md#scores):

* an indicator's score is its level, 1 to 5, or None: "not assessed" (a manual question left
  unanswered, or a measure with nothing to measure). Not assessed is not zero: it is left out;
* a dimension's score is the mean of its assessed indicators' levels, to two decimals; None
  when none of them is assessed;
* the overall score is the mean of the assessed dimensions' scores (each dimension weighs the
  same, however many indicators it has: what the radar chart shows), to two decimals.

Means are computed with Decimal and rounded half up, so 2.345 is 2.35 on every platform.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .framework import Model

CENT = Decimal("0.01")


def mean(values: Iterable[float | int | None]) -> float | None:
    """The mean of the values that are not None, to two decimals; None if there are none."""
    present = [Decimal(str(v)) for v in values if v is not None]
    if not present:
        return None
    return float((sum(present) / len(present)).quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Scores:
    indicators: dict[str, int | None]
    dimensions: dict[str, float | None]
    overall: float | None

    @property
    def assessed(self) -> int:
        return sum(1 for level in self.indicators.values() if level is not None)

    def as_json(self) -> dict[str, object]:
        return {"indicators": self.indicators, "dimensions": self.dimensions,
                "overall": self.overall}


def score(model: Model, levels: Mapping[str, int | None]) -> Scores:
    """Scores of `model` given `levels` by indicator code (missing codes: not assessed; a level
    outside 1..5 is refused, it can only come from a bug)."""
    indicators: dict[str, int | None] = {}
    for indicator in model.indicators():
        level = levels.get(indicator.code)
        if level is not None and level not in (1, 2, 3, 4, 5):
            raise ValueError(f"{indicator.code}: level {level!r} is not 1 to 5")
        indicators[indicator.code] = level
    dimensions = {d.code: mean(indicators[i.code] for i in d.indicators)
                  for d in model.dimensions}
    return Scores(indicators, dimensions, mean(dimensions.values()))
