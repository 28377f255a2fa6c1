"""The daily KPIs of a tenant (services/kpis/): every indicator on constructed data with known
answers, the funnel counted through the real request path on a real Redis, the public copies
per tenant schema, recomputation, and isolation between tenants."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from wagtail.models import PageViewRestriction

from cms.models import PageFeedback, ServicePage
from dgbox.settings.base import cache_settings
from services.api.models import ApiClient
from services.api.scopes import Scope
from services.kpis import counters
from services.kpis.compute import compute_day, cost_model_on, yesterday
from services.kpis.models import FunnelCount, KpiSnapshot
from services.kpis.tasks import compute_kpis
from services.models import Case, CaseEvent, OnlineService
from tenants.kpis import figures
from tenants.models import ChannelCostModel, TenantKpi

from .factories import NORTH, OnlineServiceFactory, launch, make_cases, post_form

pytestmark = pytest.mark.django_db
MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
MONDAY = datetime.date(2026, 11, 9)  # the day computed; Friday 6 and the weekend before it
BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari"}
DEMO_SERVICES = 12  # demo.site.SERVICES, which every session tenant has
DEMO_CATEGORIES = {"civil-status": 2, "social": 2, "education": 2, "documents": 2,
                   "housing": 1, "land": 2, "business": 1}


def at(day, hour, minute=0):
    """A moment of `day` in the tenants' time zone (Moscow)."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=MOSCOW)


def case(service, *, submitted, channel="online", closed=None, status=None, due=None):
    """One case row with its dates set as given (submitted_at is auto_now_add: set after)."""
    made = make_cases(service, 1, channel=channel, due_date=due)[0]
    Case.objects.filter(pk=made.pk).update(
        submitted_at=submitted, closed_at=closed,
        status=status or made.status)
    made.refresh_from_db()
    return made


def decided_by_rule(made, to):
    CaseEvent.objects.create(case=made, kind=CaseEvent.Kind.STATUS, actor_role="system",
                             data={"from": "received", "to": to, "transition": "approve",
                                   "automatic": True})


def overall(day):
    return KpiSnapshot.objects.get(day=day, page=None)


def test_channel_mix_decisions_sla_across_a_weekend_automation_and_costs(tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        friday, thursday = MONDAY - datetime.timedelta(days=3), MONDAY - datetime.timedelta(4)
        # Received on Monday, Moscow time: 00:10 there is still Sunday in UTC.
        for hour in (0, 11, 15):
            case(service, submitted=at(MONDAY, hour, 10))
        case(service, submitted=at(MONDAY, 12), channel="office")
        case(service, submitted=at(MONDAY, 13), channel="phone")
        case(service, submitted=at(MONDAY, 23, 59), channel="post")
        case(service, submitted=at(MONDAY, 0) - datetime.timedelta(minutes=1))  # Sunday
        case(service, submitted=at(MONDAY + datetime.timedelta(days=1), 0))      # Tuesday
        # Decided on Monday. Due one working day after Friday: Monday, across the weekend.
        on_time = case(service, submitted=at(friday, 10), due=MONDAY, closed=at(MONDAY, 10),
                       status="approved")
        late = case(service, submitted=at(thursday, 10), due=friday, closed=at(MONDAY, 11),
                    status="refused")
        automatic = case(service, submitted=at(MONDAY, 9), closed=at(MONDAY, 9, 1),
                         status="approved")
        decided_by_rule(automatic, "approved")
        case(service, submitted=at(friday, 9), closed=at(MONDAY, 12), status="withdrawn")
        case(service, submitted=at(friday, 9), closed=at(MONDAY, 0) - datetime.timedelta(
            minutes=1), status="approved")  # Sunday 23:59 in Moscow
        assert (on_time.due_date, late.due_date) == (MONDAY, friday)

        row = compute_day(MONDAY)

        # Received: 00:10, 11:10, 15:10 and the automatic one at 09:00 online.
        assert (row.cases_online, row.cases_office, row.cases_phone, row.cases_post) == (
            4, 1, 1, 1)
        assert (row.decided, row.decided_with_deadline, row.decided_on_time,
                row.decided_automatically) == (3, 2, 1, 1)
        assert row.decision_days == {"0": 1, "3": 1, "4": 1}
        assert row.cost_model_version == 1
        assert row.cost == Decimal(4 * 1 + 50 + 20 + 30)
        assert row.savings == Decimal(7 * 50 - (4 + 50 + 20 + 30))
        totals = figures.total([row])
        assert totals.take_up == 4 / 7 and totals.sla_compliance == 0.5
        assert totals.automation == 1 / 3 and totals.decision_time(0.5) == 3
        page_row = KpiSnapshot.objects.get(day=MONDAY, page=service.page)
        assert page_row.category == "land" and page_row.cases_online == 4
        assert page_row.decided == 3 and page_row.decision_days == row.decision_days
        assert (page_row.services_published, page_row.services_online) == (0, 0)
        public = TenantKpi.objects.get(schema_name="north", day=MONDAY, category="")
        assert public.tenant_id == tenant_a.pk
        assert (public.cases_online, public.decided, public.cost) == (4, 3, row.cost)
        land = TenantKpi.objects.get(schema_name="north", day=MONDAY, category="land")
        assert (land.cases_online, land.decided_on_time) == (4, 1)


def test_a_changed_cost_model_applies_from_its_day_and_old_days_keep_theirs(tenant_a):
    tuesday = MONDAY + datetime.timedelta(days=1)
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        for day in (MONDAY, tuesday):
            case(service, submitted=at(day, 10))
            case(service, submitted=at(day, 11), channel="office")
        ChannelCostModel.objects.create(version=2, online=2, phone=10, post=10, office=40,
                                        valid_from=tuesday, note="test")
        assert cost_model_on(MONDAY).version == 1 and cost_model_on(tuesday).version == 2
        compute_day(tuesday)
        old = compute_day(MONDAY)  # computed after the change: still the model of its day
        new = overall(tuesday)
        assert (old.cost_model_version, old.cost, old.savings) == (1, Decimal(51), Decimal(49))
        assert (new.cost_model_version, new.cost, new.savings) == (2, Decimal(42), Decimal(38))
        assert TenantKpi.objects.get(schema_name="north", day=tuesday,
                                     category="").cost_model_version == 2


def test_gauges_services_published_online_and_with_an_open_api(tenant_a):
    with tenant_context(tenant_a):
        OnlineServiceFactory()  # building-permit, open
        closed = OnlineServiceFactory(slug="street-trading")
        OnlineService.objects.filter(pk=closed.pk).update(accepting=False)
        restricted = ServicePage.objects.get(slug="housing-subsidy")
        PageViewRestriction.objects.create(page=restricted, restriction_type="login")
        day = yesterday()
        row = compute_day(day)
        assert (row.services_published, row.services_online, row.services_api) == (
            DEMO_SERVICES - 1, 1, 0)
        # Only a client that may submit applications, with a usable key, opens the API.
        reader = ApiClient.objects.create(name="Каталог", scopes=[Scope.READ_CATALOGUE])
        reader.issue_key()
        assert compute_day(day).services_api == 0
        app = ApiClient.objects.create(name="Мобильное приложение",
                                       scopes=[Scope.SUBMIT_APPLICATIONS])
        app.issue_key()
        assert compute_day(day).services_api == 1
        by_category = {row.category: row for row in TenantKpi.objects.filter(
            schema_name="north", day=day).exclude(category="")}
        # Housing's one service is restricted: no published service, no activity, no row.
        assert {c: r.services_published for c, r in by_category.items()} == {
            c: n for c, n in DEMO_CATEGORIES.items() if c != "housing"}
        assert by_category["land"].services_online == by_category["land"].services_api == 1
        assert by_category["business"].services_online == 0  # street trading is closed
        # A service page with an online service and nothing else that day has its row.
        quiet = KpiSnapshot.objects.get(day=day, page=closed.page)
        assert quiet.cases_online == quiet.decided == quiet.page_views == 0
        assert quiet.category == "business"


def test_an_empty_tenant_has_an_overall_row_of_zeros_and_no_indicators(db):
    result = launch("Пустой край", slug="empty-kpis")
    with tenant_context(result.tenant):
        row = compute_day(MONDAY)
        assert list(KpiSnapshot.objects.values_list("page_id", flat=True)) == [None]
        assert all(getattr(row, name) == 0 for name in figures.COUNTS + figures.GAUGES)
        assert row.decision_days == {} and row.cost == row.savings == 0
        totals = figures.total([row])
        assert (totals.take_up, totals.sla_compliance, totals.automation, totals.usefulness,
                totals.decision_time(0.5)) == (None, None, None, None, None)
    assert list(TenantKpi.objects.filter(schema_name="empty_kpis")
                .values_list("category", "cases_online")) == [("", 0)]


def test_recomputing_a_day_replaces_its_rows_and_keeps_its_gauges(tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        first = case(service, submitted=at(MONDAY, 10))
        compute_day(MONDAY)
        rows = KpiSnapshot.objects.filter(day=MONDAY).count()
        public = TenantKpi.objects.filter(schema_name="north", day=MONDAY).count()
        published = overall(MONDAY).services_published
        case(service, submitted=at(MONDAY, 11), channel="post")
        Case.objects.filter(pk=first.pk).update(channel="office")
        ServicePage.objects.get(slug="burial-plot").unpublish()
        again = compute_day(MONDAY)
        assert KpiSnapshot.objects.filter(day=MONDAY).count() == rows
        assert TenantKpi.objects.filter(schema_name="north", day=MONDAY).count() == public
        assert (again.cases_online, again.cases_office, again.cases_post) == (0, 1, 1)
        # A past day's catalogue is not kept anywhere else: its gauges stay as measured.
        assert again.services_published == published


def test_feedback_on_service_pages_and_on_the_whole_site(tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        other = ServicePage.objects.get(slug="street-trading")
        home = service.page.get_parent().get_parent()
        for page, useful in ((service.page, True), (service.page, True), (service.page, False),
                             (other, False), (home, True)):
            PageFeedback.objects.create(page=page, useful=useful)
        PageFeedback.objects.update(created_at=at(MONDAY, 14))
        row = compute_day(MONDAY)
        assert (row.feedback_useful, row.feedback_not_useful) == (3, 2)
        page_row = KpiSnapshot.objects.get(day=MONDAY, page=service.page)
        assert (page_row.feedback_useful, page_row.feedback_not_useful) == (2, 1)
        assert KpiSnapshot.objects.get(day=MONDAY, page=other).feedback_not_useful == 1
        assert not KpiSnapshot.objects.filter(day=MONDAY, page=home).exists()


def test_the_funnel_counted_on_the_request_path_then_collected(
        client, tenant_a, tenant_b, redis_counters, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        url = service.page.url
        today = counters.tenant_today()
    connection.set_schema_to_public()
    for _ in range(3):
        assert client.get(url, **NORTH, **BROWSER).status_code == 200
    # Not views: a crawler, a script without a User-Agent, a HEAD, a prefetch.
    assert client.get(url, **NORTH, HTTP_USER_AGENT="Googlebot/2.1").status_code == 200
    assert client.get(url, **NORTH).status_code == 200
    assert client.head(url, **NORTH, **BROWSER).status_code == 200
    assert client.get(url, **NORTH, **BROWSER, HTTP_SEC_PURPOSE="prefetch").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client).status_code == 302  # a draft: a form started
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(client).status_code == 302  # the same draft again: not a new start
    connection.set_schema_to_public()
    # Counter keys carry the schema: the south tenant sees none of north's.
    with tenant_context(tenant_b):
        assert counters.read([today], [service.page_id]) == {}
    with tenant_context(tenant_a):
        assert counters.read([today], [service.page_id]) == {(today, service.page_id): (3, 1)}
        assert counters.collect_funnel() == 1
        assert counters.collect_funnel() == 1  # collecting again sets, never adds
        funnel = FunnelCount.objects.get(day=today, page=service.page)
        assert (funnel.views, funnel.forms_started) == (3, 1)
        row = compute_day(today)
        assert (row.page_views, row.forms_started) == (3, 1)
        assert figures.total([row]).funnel()[:2] == [("page_views", 3), ("forms_started", 1)]
    raw = caches["counters"].client.get_client(write=False)
    assert {key.decode().split(":", 1)[0] for key in raw.keys("*kpis:funnel*")} == {"north"}


def test_a_counter_outage_costs_the_count_not_the_page(client, tenant_a, private_redis,
                                                        caplog):
    with tenant_context(tenant_a):
        url = ServicePage.objects.get(slug="building-permit").url
    connection.set_schema_to_public()
    private_redis.start()
    with override_settings(CACHES=cache_settings(private_redis.url, 0.5)):
        private_redis.stop()
        assert client.get(url, **NORTH, **BROWSER).status_code == 200
        with tenant_context(tenant_a):
            assert counters.collect_funnel() == 0  # nothing read: stored rows are kept
    assert any(r.name == "services.kpis.lost_counts" for r in caplog.records)


def test_each_tenants_job_writes_only_its_own_rows(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        compute_day(MONDAY)
        theirs = list(TenantKpi.objects.filter(schema_name="south", day=MONDAY)
                      .values_list("pk", "computed_at"))
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        case(service, submitted=at(MONDAY, 10))
        compute_day(MONDAY)
        assert not KpiSnapshot.objects.filter(day=MONDAY, cases_online__gt=0).exclude(
            page=None).exclude(page=service.page).exists()
    assert list(TenantKpi.objects.filter(schema_name="south", day=MONDAY)
                .values_list("pk", "computed_at")) == theirs
    assert TenantKpi.objects.get(schema_name="south", day=MONDAY, category="").cases_online == 0
    assert TenantKpi.objects.get(schema_name="north", day=MONDAY, category="").cases_online == 1
    with tenant_context(tenant_b):
        assert overall(MONDAY).cases_online == 0


def test_the_daily_task_computes_yesterday_once_and_the_command_any_day(tenant_a):
    with tenant_context(tenant_a):
        computed = compute_kpis()
        day = yesterday()
        assert computed == day.isoformat()
        assert compute_kpis() is None  # already computed after the day ended
        assert compute_kpis(MONDAY.isoformat()) == MONDAY.isoformat()
    call_command("kpis", "compute", "--since", "2026-11-01", "--tenant", "north")
    with tenant_context(tenant_a):
        days = set(KpiSnapshot.objects.filter(page=None).values_list("day", flat=True))
    assert {datetime.date(2026, 11, 1), MONDAY, day} <= days


def test_counting_a_view_costs_no_query(client, tenant_a, django_assert_num_queries):
    """A counted view (a browser) and an uncounted one (a crawler) of the same warm page take
    the same queries: the count is one INCR in the counters cache, nothing in PostgreSQL."""
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(slug="building-permit")
        url, today = page.url, counters.tenant_today()
    connection.set_schema_to_public()
    caches["counters"].clear()
    for _ in range(2):  # warm: routing, Wagtail's site root paths, content types
        client.get(url, **NORTH, HTTP_USER_AGENT="Googlebot/2.1")
    with CaptureQueriesContext(connection) as crawler:
        assert client.get(url, **NORTH, HTTP_USER_AGENT="Googlebot/2.1").status_code == 200
    with django_assert_num_queries(len(crawler)):
        assert client.get(url, **NORTH, **BROWSER).status_code == 200
    with tenant_context(tenant_a):
        assert counters.read([today], [page.pk]) == {(today, page.pk): (1, None)}


@pytest.mark.parametrize("arguments", [
    ["--day", "30.11.2026"], ["--since", "вчера"], ["--day", "2026-11-31"],
    ["--since", "1900-01-01"], ["--tenant", "нет-такого"], ["--day", "2026-11-09\x00"],
])
def test_the_command_refuses_bad_input_with_a_message(tenant_a, arguments):
    with pytest.raises(CommandError) as refused:
        call_command("kpis", "compute", *arguments)
    assert str(refused.value)
    with tenant_context(tenant_a):
        assert not KpiSnapshot.objects.exists()


def test_a_service_page_with_snapshots_can_still_be_deleted(tenant_a):
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(slug="burial-plot")
        PageFeedback.objects.create(page=page, useful=True)
        PageFeedback.objects.update(created_at=at(MONDAY, 10))
        compute_day(MONDAY)
        assert KpiSnapshot.objects.filter(day=MONDAY, page=page).exists()
        page.delete()
        assert list(KpiSnapshot.objects.filter(day=MONDAY).values_list(
            "page_id", "feedback_useful")) == [(None, 1)]
