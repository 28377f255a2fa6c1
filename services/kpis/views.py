"""Performance («Показатели») in the tenant's Wagtail admin: the KPI dashboard (dashboard.py
reads the figures; this view only checks who may see them and draws the charts).

Who sees it (docs/kpi-dashboard.md): administrators (superusers, and the Administrators
group) and case workers, who hold "Can view case" (`services.view_case`): the figures are
about how cases are handled. An administrator may also give "Can view KPI snapshot"
(`kpis.view_kpisnapshot`) to any other group under Settings → Groups. Editors and moderators
are refused by default."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from cms.viewsets import AdminSection
from tenants.console.charts import hbar_chart, line_chart

from . import dashboard

#: Either permission opens the dashboard (superusers hold both).
PERMISSIONS = ("services.view_case", "kpis.view_kpisnapshot")
#: The SLA chart names this many services at most (the table below it names them all).
SLA_CHART_SERVICES = 15
#: The bar charts' drawing width: narrower than the console's, so that their labels stay
#: legible when a phone scales them down to its screen.
BARS = {"width": 420, "label_width": 170}


def may_see(user) -> bool:
    return any(user.has_perm(permission) for permission in PERMISSIONS)


#: Performance («Показатели») in the admin menu; its route: wagtail_hooks.py. It offers "Can
#: view KPI snapshot" under Settings → Groups.
section = AdminSection("kpis", url_prefix="performance", menu_label=_l("Performance"),
                       icon="tasks", add_to_admin_menu=True,
                       menu_order=260, may_see=may_see,
                       permission=("kpis", "view_kpisnapshot"))


def channel_label(channel: str) -> str:
    return {"online": _("Online"), "office": _("At an office"), "phone": _("By phone"),
            "post": _("By post")}[channel]


def step_label(step: str) -> str:
    return {"page_views": _("Service page views"), "forms_started": _("Forms started"),
            "submitted": _("Submitted online"), "decided": _("Decided")}[step]


@section.guard
def performance(request: HttpRequest) -> HttpResponse:
    services, categories = dashboard.choices()
    form = dashboard.DashboardFilters(request.GET or None, services=services,
                                      categories=categories)
    if form.is_bound:
        form.is_valid()
    scope = dashboard.Scope.of(form)
    figures = dashboard.build(scope)
    names = dict(categories)
    for service in figures.services:
        service.category_name = names.get(service.category, service.category)
    only = [title for page_id, title in services if page_id == scope.service]
    if scope.category:
        only.append(_("category “%(name)s”") % {
            "name": names.get(scope.category, scope.category)})
    return render(request, "kpis/dashboard.html", {
        "form": form, "figures": figures, "scope": scope, "charts": charts(figures),
        "unit": dashboard.cost_unit(figures.cost_models), "only": ", ".join(only)})


def charts(figures: dashboard.Dashboard) -> dict[str, object]:
    """The SVG charts (tenants/console/charts.py) and the rows of their tables."""
    if figures.empty:
        return {}
    weekly = figures.scope.weekly
    labels = [date_format(point.start, "SHORT_DATE_FORMAT") for point in figures.trend]
    trend = line_chart(labels, [(_("Digital take-up"), [p.take_up for p in figures.trend]),
                                (_("Decided on time"), [p.sla for p in figures.trend])],
                       title=_("Take-up and SLA compliance by week") if weekly
                       else _("Take-up and SLA compliance by day"), percent=True)
    mix = [(channel_label(channel), cases, share)
           for channel, cases, share in figures.channel_mix()]
    funnel = [(step_label(step), count, of_previous, of_views)
              for step, count, of_previous, of_views in figures.funnel()]
    sla = figures.sla_by_service()
    known = [p for p in figures.trend if p.cases is not None]
    return {
        "trend_summary": trend_summary(known, weekly),
        "trend": trend,
        "mix": hbar_chart([(label, cases) for label, cases, _share in mix],
                          title=_("Cases by channel"), **BARS),
        "mix_rows": mix,
        "mix_summary": "; ".join(
            _("%(channel)s: %(cases)s") % {"channel": label, "cases": cases}
            for label, cases, _share in mix) + ".",
        "funnel": hbar_chart([(label, count) for label, count, *_rest in funnel],
                             title=_("From the service page to a decision"), **BARS),
        "funnel_rows": funnel,
        "funnel_summary": " → ".join(f"{label} {count}" for label, count, *_rest in funnel),
        "sla": hbar_chart([(s.title, s.totals.sla_compliance or 0)
                           for s in sla[:SLA_CHART_SERVICES]],
                          title=_("Decided on time, by service (worst first)"), percent=True,
                          **BARS),
        "sla_rows": sla,
        "sla_summary": sla_summary(sla),
    }


def _percent(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else _("no data")


def trend_summary(known: list[dashboard.TrendPoint], weekly: bool) -> str:
    if not known:
        return _("No day of the period has figures yet.")
    first, last = known[0], known[-1]
    return _("In the first %(unit)s with figures (%(first)s) the digital take-up was "
             "%(take_up_first)s and %(sla_first)s of decisions were on time; in the last "
             "(%(last)s), %(take_up_last)s and %(sla_last)s.") % {
        "unit": _("week") if weekly else _("day"),
        "first": date_format(first.start, "SHORT_DATE_FORMAT"),
        "last": date_format(last.start, "SHORT_DATE_FORMAT"),
        "take_up_first": _percent(first.take_up), "sla_first": _percent(first.sla),
        "take_up_last": _percent(last.take_up), "sla_last": _percent(last.sla)}


def sla_summary(services: list[dashboard.ServiceFigures]) -> str:
    if not services:
        return _("No service had decisions with a deadline in this period.")
    worst, best = services[0], services[-1]
    return _("Services with decisions that had a deadline: %(count)s. The lowest share on "
             "time: %(worst)s (%(worst_share)s); the highest: %(best)s (%(best_share)s).") % {
        "count": len(services), "worst": worst.title,
        "worst_share": _percent(worst.totals.sla_compliance), "best": best.title,
        "best_share": _percent(best.totals.sla_compliance)}
