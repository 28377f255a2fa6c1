"""The operator console at /operator/ on the platform's base domain (public schema): what
it shows. What it changes is in `manage` (forms and actions).

For national operators: every tenant with its status, release channel, release and usage;
the fleet's usage over time; the history of rollouts with each tenant's step. For a regional
administrator: the same for their region and its municipalities only; any other tenant, and
the rollouts, do not exist for them (404). Who is who: tenants/access.py.

Both are users of the public schema (`dgbox operator add [--region SLUG]`); a tenant site's
administrators are users of that tenant's schema and cannot sign in here. Pages are never
cached.
"""

import csv
import datetime
from collections.abc import Callable, Iterable
from typing import Any, Concatenate, ParamSpec

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, FilteredRelation, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from tenants import access, metering
from tenants.addresses import site_url
from tenants.audit.views import audit_log
from tenants.metering import summary as usage_summary
from tenants.models import Rollout, RolloutStep, Tenant, UsageRecord
from tenants.rollout import control

from . import actions, reauth
from .charts import bar_chart

PERMISSION = access.OPERATOR_PERMISSION
DAY_CHOICES = usage_summary.PERIODS
COUNTER_TITLES = {
    "api_calls": _("API calls"),
    "cases_new": _("New cases"),
    "notifications_sent": _("Notifications sent"),
}
def _zero(field: str) -> Coalesce:
    return Coalesce(F(f"usage_{field}"), Value(0))


#: The table's orders, in SQL over the usage summary (`_with_usage`); a tenant without
#: figures counts as 0; ties by name.
SORTS: dict[str, tuple[Any, ...]] = {
    "name": (),
    "cases": (_zero("cases_total").desc(),),
    "new": (_zero("cases_new").desc(),),
    "notifications": (_zero("notifications_sent").desc(),),
    "api": (_zero("api_calls").desc(),),
    "storage": ((_zero("storage_bytes") + _zero("media_bytes")).desc(),),
}

SORT_COLUMNS = [("name", _("Tenant")), ("cases", _("Cases open / total")),
                ("new", _("New cases")), ("notifications", _("Notifications")),
                ("api", _("API calls")), ("storage", _("Private files"))]


P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def console_required(view: View[P]) -> View[P]:
    """Signed in (else to the console's login) and an operator or a regional administrator
    (else 403: a public-schema account that has no role here)."""

    @never_cache
    @login_required(login_url=reverse_lazy("operator-login"))
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not access.may_use_console(request.user):
            raise PermissionDenied(_("Only platform operators may use the console."))
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def operator_required(view: View[P]) -> View[P]:
    """National operators only; for a regional administrator the page does not exist (404)."""

    @console_required
    def wrapped(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        if not access.is_operator(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def tenant_in_scope(request: HttpRequest, slug: str) -> Tenant:
    """The tenant `slug` if the user may see it, else 404 (never 403: a regional
    administrator does not learn which other tenants exist)."""
    return get_object_or_404(access.tenants_in_scope(request.user).select_related("parent"),
                             slug=slug)


class LoginView(auth_views.LoginView):
    template_name = "operator/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("operator-home")  # type: ignore[assignment]  # lazy, as documented

    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        reauth.mark_checked(self.request)  # the password was just checked
        return response


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("operator-login")  # type: ignore[assignment]  # lazy, as documented


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The one-time link `dgbox operator add|link` prints: choose a password, then sign in.
    A used, expired or mistyped link says so and how to get a new one."""

    template_name = "operator/set_password.html"
    success_url = reverse_lazy("operator-login")
    reset_url_token = "set-password"  # noqa: S105 - a URL segment, not a secret

    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: "SetPasswordForm[User]") -> HttpResponse:
        messages.success(self.request, _("Your password is set. Sign in with it."))
        return super().form_valid(form)


def _days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        return 30
    return days if days in DAY_CHOICES else 30


def _charts(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"title": title,
             "field": field,
             "svg": bar_chart([(p["day"].isoformat(), p[field]) for p in series],
                              title=str(title)),
             "total": sum(p[field] for p in series)}
            for field, title in COUNTER_TITLES.items()]


#: Tenants per page of the console's table: the page costs the same at 30 tenants and at 5,000.
TENANTS_PER_PAGE = 50
#: The longest search text honoured (names are at most 100 characters).
SEARCH_MAX = 100


def _with_usage(tenants: QuerySet[Tenant], days: int) -> QuerySet[Tenant]:
    """`tenants` with their figures over `days` days (`usage_<field>`, null without any) from
    the usage summary, one LEFT JOIN: sorted, filtered and paged in SQL, so a page view reads
    the shown page's figures only, whatever the size of the fleet."""
    period = FilteredRelation("usage_summaries", condition=Q(usage_summaries__days=days))
    figures: dict[str, Any] = {f"usage_{f}": F(f"period__{f}") for f in usage_summary.FIELDS}
    annotated: QuerySet[Tenant] = tenants.annotate(period=period).annotate(
        usage_days=F("period__days"), **figures)
    return annotated


def _totals(series: Iterable[dict[str, Any]]) -> dict[str, int]:
    totals = dict.fromkeys(metering.COUNTERS, 0)
    for point in series:
        for counter in metering.COUNTERS:
            totals[counter] += point[counter]
    return totals


@console_required
def home(request: HttpRequest) -> HttpResponse:
    """The tenants in the user's scope with their usage, a page at a time, searchable by name
    or address; the daily counters as charts (the fleet's for operators, the region's for a
    regional administrator); the last rollout. The usage figures are computed ahead of the
    view (tenants/metering/summary.py); while there are none yet, the tenants are listed
    without them and the page says so."""
    days = _days(request)
    requested = request.GET.get("sort", "")
    sort = requested if requested in SORTS else "name"
    search = request.GET.get("q", "").strip()[:SEARCH_MAX]
    operator = access.is_operator(request.user)
    scope = access.tenants_in_scope(request.user)
    fleet = usage_summary.fleet_figures(days)
    listed = scope.filter(Q(name__icontains=search) | Q(slug__icontains=search.lower())) \
        if search else scope
    # The order first, narrow (ids; joined to the summary only to sort by a usage figure),
    # then the shown page's tenants in full with their figures: sorting 5,000 full rows
    # joined to their parents cost three times as much.
    ordered = (_with_usage(listed, days) if SORTS[sort] else listed) \
        .order_by(*SORTS[sort], "name", "pk").values_list("pk", flat=True)
    paginator = Paginator(ordered, TENANTS_PER_PAGE)
    paginator.count = listed.count()  # without the join (the order needs it, not the count)
    page: Page[int] = paginator.get_page(request.GET.get("page"))
    ids = list(page.object_list)
    shown = _with_usage(Tenant.objects.filter(pk__in=ids).select_related("parent"), days)
    by_pk = {t.pk: t for t in shown}
    # Labels and links once per page, not per row (50 rows: a fifth of the page's CPU).
    statuses, channels = (dict(Tenant._meta.get_field(f).flatchoices)
                          for f in ("status", "release_channel"))
    link = reverse("operator-tenant", args=["-"])[:-2]
    rows: list[dict[str, Any]] = [
        {"tenant": t, "usage": usage_summary.page_usage(t), "url": f"{link}{t.slug}/",
         "status": str(statuses.get(t.status, t.status)),
         "channel": str(channels.get(t.release_channel, t.release_channel))}
        for t in (by_pk[pk] for pk in ids if pk in by_pk)]
    series: list[dict[str, Any]] | None
    if not operator:  # a region's few tenants, summed on each view
        in_scope = sorted(scope.values_list("schema_name", flat=True))
        series = metering.daily_totals(days, schema_names=in_scope)
    else:  # the fleet's, computed ahead
        series = fleet.series if fleet else None
    by_status = list(scope.values_list("status").annotate(
        n=Count("pk"), maintenance=Count("pk", filter=Q(maintenance=True)))
        .values_list("status", "n", "maintenance"))
    status_counts = {status: n for status, n, _ in by_status}
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "operator/home.html", {
        "is_operator": operator, "region": access.region_of(request.user),
        "rows": rows, "page": page, "search": search, "query": query.urlencode(),
        "days": days, "sort_columns": SORT_COLUMNS, "day_choices": DAY_CHOICES, "sort": sort,
        "charts": _charts(series) if series is not None else None, "series": series,
        "usage_as_of": fleet.computed_at if fleet else None,
        "usage_stale": getattr(fleet, "stale", False),
        "status_counts": status_counts,
        "maintenance": sum(m for _, _, m in by_status),
        "totals": _totals(series) if series is not None else None,
        "last_rollout": Rollout.objects.first() if operator else None,
    })


@console_required
def tenant_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One tenant: facts, usage charts, its part in recent rollouts, what can be done."""
    tenant = tenant_in_scope(request, slug)
    days = _days(request)
    series = metering.daily_totals(days, schema_name=tenant.schema_name)
    latest = next(iter(metering.fleet_usage(days, schema_name=tenant.schema_name)), {})
    steps = (RolloutStep.objects.filter(schema_name=tenant.schema_name)
             .select_related("rollout").order_by("-rollout__started_at")[:10])
    return render(request, "operator/tenant.html", {
        "tenant": tenant,
        "domains": [{"domain": d.domain, "is_primary": d.is_primary, "url": site_url(d.domain)}
                    for d in tenant.domains.order_by("-is_primary", "domain")],
        "days": days, "day_choices": DAY_CHOICES, "charts": _charts(series), "series": series,
        "usage": latest, "steps": steps, "is_operator": access.is_operator(request.user),
        "invitation": actions.first_administrator(tenant),
    })


@operator_required
def rollout_list(request: HttpRequest) -> HttpResponse:
    """Rollouts, newest first, with their step counts by status."""
    rollouts = Rollout.objects.annotate(
        tenants=Count("steps", filter=Q(steps__kind=RolloutStep.Kind.TENANT)),
        done=Count("steps", filter=Q(steps__status=RolloutStep.Status.DONE)),
        failed=Count("steps", filter=Q(steps__status=RolloutStep.Status.FAILED)),
    ).order_by("-started_at", "-pk")
    page = Paginator(rollouts, 25).get_page(request.GET.get("page"))
    return render(request, "operator/rollouts.html", {"page": page})


@operator_required
def rollout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One rollout: options, halt reason, and every step by ring (failed ones first if asked)."""
    rollout = get_object_or_404(Rollout, pk=pk)
    steps = rollout.steps.all()
    only_failed = request.GET.get("status") == "failed"
    if only_failed:
        steps = steps.filter(status=RolloutStep.Status.FAILED)
    counts = dict(rollout.steps.values_list("status").annotate(n=Count("pk"))
                  .values_list("status", "n"))
    progress = control.progress(rollout)
    return render(request, "operator/rollout.html", {
        "rollout": rollout, "steps": steps, "counts": counts, "only_failed": only_failed,
        "progress": progress,
        "progress_rows": [(status, label, progress["counts"][status])
                          for status, label in RolloutStep.Status.choices],
    })


@console_required
def usage_csv(request: HttpRequest) -> HttpResponse:
    """Usage per tenant and day over the chosen period, for accounting (a regional
    administrator's: their region's tenants only)."""
    days = _days(request)
    since = metering.platform_today() - datetime.timedelta(days=days - 1)
    operator = access.is_operator(request.user)
    tenants = Tenant.objects.all() if operator else access.tenants_in_scope(request.user)
    slugs = dict(tenants.values_list("schema_name", "slug"))
    records = UsageRecord.objects.filter(day__gte=since)
    if not operator:
        records = records.filter(schema_name__in=list(slugs))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{days}d.csv"'
    writer = csv.writer(response)
    fields = ["day", *metering.COUNTERS, *metering.GAUGES]
    writer.writerow(["tenant", "schema", *fields])
    for record in records.order_by("schema_name", "day"):
        writer.writerow([slugs.get(record.schema_name, ""), record.schema_name,
                         *("" if getattr(record, f) is None else getattr(record, f)
                           for f in fields)])
    return response


@operator_required
def platform_audit_log(request: HttpRequest) -> HttpResponse:
    """The platform's audit trail (public schema): operators' sign-ins, tenant lifecycle and
    console actions; filters and CSV as in a tenant's admin."""
    return audit_log(request, "operator/audit.html", {})
