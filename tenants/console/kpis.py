"""KPI pages of the operator console (issue 17): the dashboard of the nation (operators) or of
a region (its regional administrator, or an operator choosing it), a tenant's KPIs among its
peers, the channel cost model's versions, and a tenant's population.

Who sees what: a national operator sees every level and edits the cost model; a regional
administrator sees their region, its municipalities and the municipalities compared with each
other, never another region (404) nor the regions' ranking; both may set the population of a
tenant in their scope. Figures come from `tenants.kpis.rollup` (a constant number of queries
whatever the number of tenants); every chart has a text summary and the same figures in a
table next to it. Plain GET forms for the filters: no JavaScript needed.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Max, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tenants import access
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.kpis import rollup
from tenants.kpis.figures import CHANNELS
from tenants.metering.counters import platform_today
from tenants.models import ChannelCostModel, Tenant

from . import reauth
from .charts import hbar_chart, line_chart
from .forms import ConfirmForm
from .views import console_required, operator_required, tenant_in_scope

#: The longest period a from-to filter may span (bounded work per page view).
MAX_PERIOD_DAYS = 3 * 366

CHANNEL_TITLES = {"online": gettext_lazy("Online"), "office": gettext_lazy("At an office"),
                  "phone": gettext_lazy("By phone"), "post": gettext_lazy("By post")}
FUNNEL_TITLES = {"page_views": gettext_lazy("Service page views"),
                 "forms_started": gettext_lazy("Forms started"),
                 "submitted": gettext_lazy("Submitted online"),
                 "decided": gettext_lazy("Decided")}
INDICATOR_TITLES = {
    "take_up": gettext_lazy("Digital take-up"),
    "sla": gettext_lazy("Decided on time"),
    "median_days": gettext_lazy("Median days to decision"),
    "automation": gettext_lazy("Decided automatically"),
    "cost_per_case": gettext_lazy("Cost per case"),
    "per_1000": gettext_lazy("Cases per 1,000 residents"),
}


class PeriodForm(forms.Form):
    """The dashboard's filters: the last N days, or from-to (both given), and a category."""

    days = forms.TypedChoiceField(
        label=gettext_lazy("Period"), coerce=int, required=False, initial=30,
        choices=[(d, gettext_lazy("Last %(days)s days") % {"days": d})
                 for d in rollup.PERIOD_CHOICES])
    start = forms.DateField(label=gettext_lazy("From (YYYY-MM-DD)"), required=False)
    end = forms.DateField(label=gettext_lazy("To (YYYY-MM-DD)"), required=False)
    category = forms.ChoiceField(label=gettext_lazy("Service category"), required=False)

    def __init__(self, *args: Any, categories: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["category"]).choices = [("", _("All services")),
                                           *((c, c) for c in categories)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if bool(start) != bool(end) and not self.errors:
            self.add_error("end" if start else "start",
                           _("Give both dates of the period, or neither."))
        elif start and end:
            if start > end:
                self.add_error("end", _("The end of the period is before its start."))
            elif (end - start).days + 1 > MAX_PERIOD_DAYS:
                self.add_error("end", _("The period is too long: %(days)s days at most.")
                               % {"days": MAX_PERIOD_DAYS})
        return data

    def period(self) -> rollup.Period:
        """The chosen period, or the last 30 days if the filters have a problem."""
        today = platform_today()
        if not self.is_valid():
            return rollup.Period.last(30, today)
        start, end = self.cleaned_data.get("start"), self.cleaned_data.get("end")
        if start and end:
            return rollup.Period(start, end)
        return rollup.Period.last(self.cleaned_data.get("days") or 30, today)

    def chosen_category(self) -> str:
        return str(self.cleaned_data.get("category") or "") if self.is_valid() else ""


def _filters(request: HttpRequest) -> tuple[PeriodForm, rollup.Period, str]:
    form = PeriodForm(request.GET or None, categories=rollup.categories())
    return form, form.period(), form.chosen_category()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:,.1f}".replace(",", " ") if isinstance(value, float) else str(value)


def _summary_rows(unit: rollup.Unit) -> list[tuple[str, str]]:
    t = unit.totals
    return [
        (_("Cases received"), str(t.cases)),
        (_("Digital take-up"), _pct(t.take_up)),
        (_("Decided on time"), _pct(t.sla_compliance)),
        (_("Median days to decision"), _num(t.decision_time(0.5))),
        (_("90th percentile of days to decision"), _num(t.decision_time(0.9))),
        (_("Decided automatically"), _pct(t.automation)),
        (_("Estimated cost"), _num(t.cost)),
        (_("Estimated saving against every case at an office"), _num(t.savings)),
        (_("Cost per case"), _num(unit.cost_per_case)),
        (_("Cases per 1,000 residents"),
         _num(unit.per_1000_residents) if unit.population else _("population not set")),
        (_("Cases per published service"), _num(unit.per_service)),
        (_("Page usefulness"), _pct(t.usefulness)),
    ]


def _text_summary(unit: rollup.Unit, period: rollup.Period) -> str:
    t = unit.totals
    if not t.cases and not t.counts["decided"]:
        return _("No cases were received or decided from %(start)s to %(end)s.") % {
            "start": period.start, "end": period.end}
    return _("From %(start)s to %(end)s, %(cases)s cases were received, %(take_up)s of them "
             "online; %(sla)s of the decisions with a deadline were on time, and half of the "
             "decisions took %(median)s days or fewer.") % {
        "start": period.start, "end": period.end, "cases": t.cases, "take_up": _pct(t.take_up),
        "sla": _pct(t.sla_compliance), "median": _num(t.decision_time(0.5))}


def _levels(period: rollup.Period, category: str, scope_of: Tenant | None,
            whole_nation: bool = False) -> rollup.Levels:
    """The roll-ups of the nation (`scope_of` None, or `whole_nation`) or of a region, reused
    for DGBOX_CONSOLE_KPI_CACHE_SECONDS."""
    key = "nation" if whole_nation or scope_of is None else f"region:{scope_of.pk}"
    return rollup.levels(period, category, rollup.scope_of(None if whole_nation else scope_of),
                         scope_key=key, cache_seconds=settings.DGBOX_CONSOLE_KPI_CACHE_SECONDS)


def _figures(unit: rollup.Unit, period: rollup.Period, category: str,
             scope: QuerySet[Tenant] | None, scope_key: str) -> dict[str, Any]:
    """The charts and tables every KPI page shows for one unit: summary, trends (take-up and
    SLA), channel mix, funnel."""
    points = rollup.cached("trend", scope_key, period, category,
                           settings.DGBOX_CONSOLE_KPI_CACHE_SECONDS,
                           lambda: rollup.trend(period, category, scope))
    labels = [day.isoformat() for day, _t in points]
    take_up = [t.take_up for _d, t in points]
    sla = [t.sla_compliance for _d, t in points]
    mix: list[tuple[str, float]] = [(str(CHANNEL_TITLES[c]), n)
                                    for c, n in unit.totals.channel_mix().items()]
    funnel: list[tuple[str, float]] = [(str(FUNNEL_TITLES[k]), n) for k, n in unit.totals.funnel()]
    return {
        "summary": _summary_rows(unit), "text": _text_summary(unit, period),
        "trend_svg": line_chart(labels, [(_("Digital take-up"), take_up),
                                         (_("Decided on time"), sla)],
                                title=_("Take-up and decisions on time"), percent=True),
        "trend_rows": [(d, _pct(a), _pct(b), t.cases)
                       for (d, t), a, b in zip(points, take_up, sla, strict=True)],
        "weekly": period.days >= rollup.WEEKLY_FROM_DAYS,
        "mix_svg": hbar_chart(mix, title=_("Cases by channel")),
        "mix": [(label, n, _pct(n / unit.totals.cases if unit.totals.cases else None))
                for label, n in mix],
        "funnel_svg": hbar_chart(funnel, title=_("Funnel")),
        "funnel": funnel,
        "channels": CHANNELS,
    }


def _benchmark(units: list[rollup.Unit], highlight: str | None, sort: str
               ) -> dict[str, Any]:
    """Distributions (quartiles, with the viewed unit) and the ranking of `units` by `sort`."""
    sort = sort if sort in rollup.INDICATORS else "take_up"
    distributions: list[dict[str, Any]] = []
    for key, indicator in rollup.INDICATORS.items():
        title = str(INDICATOR_TITLES[key])
        dist = rollup.distribution(indicator.value(u) for u in units)
        fmt = _pct if indicator.percent else _num
        if dist is None:
            distributions.append({"key": key, "title": title, "svg": None, "rows": []})
            continue
        points = [(_("Lowest"), dist.lowest), (_("Lower quartile"), dist.lower_quartile),
                  (_("Median"), dist.median), (_("Upper quartile"), dist.upper_quartile),
                  (_("Highest"), dist.highest)]
        viewed = next((u for u in units if u.name == highlight), None)
        viewed_value = indicator.value(viewed) if viewed is not None else None
        if viewed is not None and viewed_value is not None:
            points.append((viewed.name, viewed_value))
        distributions.append({
            "key": key, "title": title, "n": dist.n,
            "svg": hbar_chart(points, title=title, percent=indicator.percent,
                              highlight=viewed.name if viewed is not None else None),
            "rows": [(label, fmt(value)) for label, value in points]})
    ranked = rollup.rank(units, rollup.INDICATORS[sort])
    return {
        "distributions": distributions, "sort": sort,
        "columns": [(k, INDICATOR_TITLES[k]) for k in rollup.INDICATORS],
        "ranking": [{"rank": r.rank, "unit": r.unit, "highlight": r.unit.name == highlight,
                     "values": [(_pct if i.percent else _num)(i.value(r.unit))
                                for i in rollup.INDICATORS.values()]}
                    for r in ranked],
    }


def _query(request: HttpRequest, drop: str = "sort") -> str:
    query = request.GET.copy()
    query.pop(drop, None)
    return query.urlencode()


@console_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The nation's KPIs with the regions compared (operators), or one region's with its
    municipalities compared (its regional administrator; an operator with ?region=)."""
    form, period, category = _filters(request)
    operator = access.is_operator(request.user)
    region: Tenant | None
    if operator:
        slug = request.GET.get("region", "")
        region = (get_object_or_404(Tenant.objects.filter(kind=Tenant.Kind.REGION), slug=slug)
                  if slug else None)
    else:
        region = access.region_of(request.user)
        if request.GET.get("region", region.slug if region else "") != (
                region.slug if region else ""):
            raise Http404
    scope = rollup.scope_of(region)
    levels = _levels(period, category, region)
    if region is None:
        unit = levels.nation(_("All regions and municipalities"))
        peers = [levels.of_region(r) for r in levels.regions()]
    else:
        unit = levels.of_region(region)
        peers = [levels.of_tenant(t) for t in levels.municipalities(region)]
    return render(request, "operator/kpis.html", {
        "form": form, "period": period, "category": category, "region": region,
        "is_operator": operator, "unit": unit,
        "regions": levels.regions() if operator and region is None else [],
        "without_population": [u.name for u in peers if not u.population],
        "benchmark": _benchmark(peers, None, request.GET.get("sort", "")),
        "query": _query(request),
        **_figures(unit, period, category, scope,
                   f"region:{region.pk}" if region is not None else "nation"),
    })


@console_required
def tenant_kpis(request: HttpRequest, slug: str) -> HttpResponse:
    """One tenant's KPIs, and where it stands among its peers: a municipality among the other
    municipalities of its region; a region (its roll-up) among the regions, for operators."""
    tenant = tenant_in_scope(request, slug)
    form, period, category = _filters(request)
    operator = access.is_operator(request.user)
    own_scope: QuerySet[Tenant]
    if tenant.kind == Tenant.Kind.MUNICIPALITY:
        levels = _levels(period, category, tenant.parent)
        unit = levels.of_tenant(tenant)
        peers = rollup.peers(levels, tenant)
        own_scope, own_key = Tenant.objects.filter(pk=tenant.pk), f"tenant:{tenant.pk}"
    else:
        levels = _levels(period, category, tenant, whole_nation=operator)
        unit = levels.of_region(tenant)
        peers = rollup.peers(levels, tenant) if operator else []
        own_scope, own_key = rollup.scope_of(tenant), f"region:{tenant.pk}"
    return render(request, "operator/tenant_kpis.html", {
        "tenant": tenant, "form": form, "period": period, "category": category,
        "unit": unit, "is_operator": operator,
        "benchmark": _benchmark(peers, unit.name, request.GET.get("sort", "")) if peers
        else None,
        "query": _query(request), **_figures(unit, period, category, own_scope, own_key),
    })


# --- Population ----------------------------------------------------------------------------------


class PopulationForm(forms.Form):
    population = forms.IntegerField(
        label=gettext_lazy("Population"), required=False, min_value=1,
        max_value=2_000_000_000,
        help_text=gettext_lazy("Residents, a whole number. Leave empty if unknown: the tenant "
                               "is then not compared per capita."),
        error_messages={"invalid": gettext_lazy("Enter the number of residents as a whole "
                                                "number, like 125000."),
                        "min_value": gettext_lazy("The population must be 1 or more."),
                        "max_value": gettext_lazy("The population is too large.")})


@console_required
def population(request: HttpRequest, slug: str) -> HttpResponse:
    """Set a tenant's population (operators; the regional administrator of its region)."""
    tenant = tenant_in_scope(request, slug)
    form = PopulationForm(request.POST if request.method == "POST" else None,
                          initial={"population": tenant.population})
    if request.method == "POST" and form.is_valid():
        before, after = tenant.population, form.cleaned_data["population"]
        tenant.population = after
        tenant.save(update_fields=["population"])
        record(Kind.CONSOLE_ACTION, f"population set: {tenant.slug}", obj=tenant,
               details={"action": "set_population", "before": before, "after": after},
               in_public=True)
        messages.success(request, _("The population of %(name)s is saved.")
                         % {"name": tenant.name})
        return redirect("operator-tenant-kpis", slug=tenant.slug)
    return render(request, "operator/population.html", {"tenant": tenant, "form": form},
                  status=400 if request.method == "POST" else 200)


# --- Channel cost model --------------------------------------------------------------------------


class CostModelForm(forms.ModelForm):  # type: ignore[type-arg]  # django-stubs: generic form
    """A new version of the channel cost model (versions are never edited)."""

    class Meta:
        model = ChannelCostModel
        fields = ["online", "phone", "post", "office", "unit", "valid_from", "note"]

    def __init__(self, *args: Any, latest: ChannelCostModel | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latest = latest
        for name in CHANNELS:
            cast(forms.DecimalField, self.fields[name]).min_value = 0
            self.fields[name].help_text = _("Relative cost of one case, 0 or more.")
        self.fields["valid_from"].help_text = _("YYYY-MM-DD, today or later: figures of "
                                                "earlier days keep the model they used.")

    def clean_valid_from(self) -> datetime.date:
        value: datetime.date = self.cleaned_data["valid_from"]
        if value < platform_today():
            raise forms.ValidationError(_("Choose today or a later day: past figures keep "
                                          "their model."))
        if self.latest is not None and value < self.latest.valid_from:
            raise forms.ValidationError(
                _("Choose %(day)s or later: version %(version)s is in force from then.")
                % {"day": self.latest.valid_from, "version": self.latest.version})
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in CHANNELS:
            value = data.get(name)
            if value is not None and value < 0:
                self.add_error(name, _("A cost cannot be negative."))
        return data


def create_cost_model(actor: Any, form: CostModelForm) -> ChannelCostModel:
    """The next version from the form, recorded in the platform's audit trail."""
    with transaction.atomic():
        latest = ChannelCostModel.objects.select_for_update().aggregate(v=Max("version"))["v"]
        model: ChannelCostModel = form.save(commit=False)
        model.version = (latest or 0) + 1
        model.created_by = actor.get_username()
        model.save()
    record(Kind.CONSOLE_ACTION, f"channel cost model v{model.version} created", obj=model,
           details={"action": "create_cost_model", "version": model.version,
                    **{c: str(getattr(model, c)) for c in CHANNELS},
                    "valid_from": model.valid_from.isoformat()}, in_public=True)
    return model


@operator_required
def cost_models(request: HttpRequest) -> HttpResponse:
    """Every version of the channel cost model, newest first; a form for the next one (with the
    password asked again if the last check is old, as for destructive actions)."""
    versions = list(ChannelCostModel.objects.order_by("-version")[:100])
    latest = versions[0] if versions else None
    post = request.POST if request.method == "POST" else None
    needs_password = not reauth.checked_recently(request)
    form = CostModelForm(post, latest=latest, initial={
        **({c: getattr(latest, c) for c in CHANNELS} if latest else {}),
        "unit": latest.unit if latest else "", "valid_from": platform_today()})
    confirm = ConfirmForm(post, request=request, slug="", needs_slug=False,
                          needs_password=needs_password)
    if needs_password:
        confirm.fields["password"].help_text = _("Asked again before changing figures of "
                                                 "every tenant.")
    if post is not None and form.is_valid() and confirm.is_valid():
        if needs_password:
            reauth.mark_checked(request)
        try:
            model = create_cost_model(request.user, form)
        except IntegrityError:
            messages.error(request, _("Another operator saved a version at the same moment: "
                                      "look at the list and try again."))
        else:
            messages.success(request, _("Version %(version)s of the channel cost model is "
                                        "saved.") % {"version": model.version})
        return redirect("operator-cost-models")
    return render(request, "operator/cost_models.html", {
        "versions": versions, "form": form, "confirm": confirm,
        "channels": [(c, CHANNEL_TITLES[c]) for c in CHANNELS]},
        status=400 if post is not None else 200)
