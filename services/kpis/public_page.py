"""The public page "How we are doing" (/ru/how-we-are-doing/): the site's last twelve complete
months by month, with the same figures and the same small-number rule as the open API
(services/kpis/publication.py). Server-rendered SVG charts with a text summary, each with its
figures in a table; no JavaScript. Linked from every page's footer (cms/templates)."""

import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from tenants.console.charts import hbar_chart, line_chart
from tenants.kpis import figures
from tenants.models import ChannelCostModel

from . import publication

MONTHS = 12
#: The document's target for digital take-up: 80-90% of transactions online.
TARGETS = (0.8, 0.9)


def last_complete_months(today: datetime.date, n: int = MONTHS) -> tuple[datetime.date,
                                                                          datetime.date]:
    """The first and last day of the `n` calendar months before `today`'s month."""
    last = today.replace(day=1) - datetime.timedelta(days=1)
    first = last.replace(day=1)
    for _i in range(n - 1):
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return first, last


def shown(row: dict[str, Any], name: str, *, percent: bool = False, days: bool = False
          ) -> str:
    """A figure as the page writes it: withheld, not applicable, or the number."""
    if name in row["suppressed"]:
        return _("withheld")
    value = row[name]
    if value is None:
        return "–"
    if percent:
        return f"{value:.0%}"
    if days:
        return _("%(days)s d") % {"days": value}
    return formats.number_format(value, decimal_pos=0 if isinstance(value, float) else None,
                                 force_grouping=True)


def _cost_model() -> dict[str, Any]:
    model = ChannelCostModel.objects.order_by("-version").first()
    costs = ({c: getattr(model, c) for c in figures.CHANNELS} if model is not None
             else dict(figures.DEFAULT_COSTS))
    return {"unit": (model.unit if model is not None else "") or "",
            **{c: formats.number_format(Decimal(v).normalize()) for c, v in costs.items()}}


@require_safe
def how_we_are_doing(request: HttpRequest) -> HttpResponse:
    first, last = last_complete_months(timezone.localdate())
    rows = publication.figures_by_period(first, last, publication.MONTH)
    year = publication.figures_over(first, last)
    below = publication.threshold()
    for row in rows:
        row["label"] = formats.date_format(datetime.date.fromisoformat(row["from"]),
                                           "YEAR_MONTH_FORMAT")
    labels = [row["period"] for row in rows]
    channel_names = {"online": _("Online"), "office": _("At an office"),
                     "phone": _("By phone"), "post": _("By post")}
    mix = [(channel_names[c], year[f"cases_{c}"]) for c in figures.CHANNELS
           if year[f"cases_{c}"] is not None]
    charts = {
        "take_up": line_chart(labels, [
            (_("Online"), [row["take_up"] for row in rows]),
            (_("Target 80%"), [TARGETS[0]] * len(rows)),
            (_("Target 90%"), [TARGETS[1]] * len(rows))],
            title=_("Share of applications made online"), percent=True),
        "channels": hbar_chart(mix, title=_("Applications by channel, last 12 months")),
        "sla": line_chart(labels, [(_("On time"), [row["sla_compliance"] for row in rows])],
                          title=_("Share of decisions made on time"), percent=True),
        "days": line_chart(labels, [(_("Median"), [row["median_days"] for row in rows]),
                                    (_("90th percentile"), [row["p90_days"] for row in rows])],
                           title=_("Days from application to decision")),
        "useful": line_chart(labels, [(_("Useful"), [row["usefulness"] for row in rows])],
                             title=_("Share of readers who found a page useful"),
                             percent=True),
    }
    table = [{"label": row["label"], "take_up": shown(row, "take_up", percent=True),
              "sla": shown(row, "sla_compliance", percent=True),
              "median": shown(row, "median_days", days=True),
              "p90": shown(row, "p90_days", days=True),
              "useful": shown(row, "usefulness", percent=True)} for row in rows]
    query = {"from": first.isoformat(), "to": last.isoformat(), "granularity": "month"}
    api = reverse("api-v1:kpis")
    return render(request, "kpis/how_we_are_doing.html", {
        "first": first, "last": last, "below": below, "charts": charts, "table": table,
        "year": {name: shown(year, name) for name in ("cases_online", "cost", "savings")}
        | {"take_up": shown(year, "take_up", percent=True),
           "sla": shown(year, "sla_compliance", percent=True),
           "median": shown(year, "median_days", days=True),
           "useful": shown(year, "usefulness", percent=True)},
        "channels": [(channel_names[c], shown(year, f"cases_{c}")) for c in figures.CHANNELS],
        "cost_model": _cost_model(),
        "csv_url": f"{api}?{urlencode({**query, 'format': 'csv'})}",
        "json_url": f"{api}?{urlencode(query)}",
    })

