"""KPI roll-ups by level (tenants/kpis/rollup.py) and the console's KPI pages
(tenants/console/kpis.py), on TenantKpi rows with known answers.

Two regions of our own: r1 (1,000,000 residents) with municipalities m1 (10,000) and m2 (no
population), r2 (500,000) with m3 (20,000). Ratios are ratios of sums; a tenant without a
population is listed but never ranked per capita; a regional administrator sees their region
only; the cost model is versioned and audited; query counts do not grow with tenants.
"""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenants.audit.models import AuditEvent
from tenants.kpis import rollup
from tenants.metering.counters import platform_today
from tenants.models import ChannelCostModel, Tenant, TenantKpi

from .factories import console_account, console_sign_in

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
PASSWORD = "a long console password"
D1, D2, OUTSIDE = datetime.date(2026, 10, 1), datetime.date(2026, 10, 2), datetime.date(
    2026, 10, 20)
PERIOD = rollup.Period(D1, datetime.date(2026, 10, 10))


def kpi(tenant, day, category="", **figures):
    return TenantKpi.objects.create(tenant=tenant, schema_name=tenant.schema_name, day=day,
                                    category=category, computed_at=timezone.now(), **figures)


def make_tenant(slug, kind, parent=None, population=None):
    return Tenant.objects.create(name=f"Тест {slug}", slug=slug, kind=kind, parent=parent,
                                 schema_name=slug.replace("-", "_"), status="active",
                                 population=population)


@pytest.fixture
def fleet(session_tenants):
    r1 = make_tenant("kpi-r1", "region", population=1_000_000)
    m1 = make_tenant("kpi-m1", "municipality", r1, population=10_000)
    m2 = make_tenant("kpi-m2", "municipality", r1)
    r2 = make_tenant("kpi-r2", "region", population=500_000)
    m3 = make_tenant("kpi-m3", "municipality", r2, population=20_000)
    kpi(r1, D1, cases_online=10, cases_office=10, cost=Decimal(510), savings=Decimal(490))
    kpi(m1, D1, cases_online=30, cases_office=10, services_published=4)
    kpi(m1, D2, cases_online=10, decided=4, decided_with_deadline=4, decided_on_time=3,
        decided_automatically=1, decision_days={"1": 2, "5": 2}, services_published=5,
        page_views=100, forms_started=40, cost=Decimal(100))
    kpi(m2, D1, cases_post=20, decided=2, decided_with_deadline=2, decided_on_time=0,
        decision_days={"10": 2}, cost=Decimal(600))
    kpi(r2, D1, cases_online=5, cases_phone=5)
    kpi(m3, D1, cases_online=90, cases_office=10, decided=10, decided_automatically=10,
        decided_with_deadline=10, decided_on_time=10, decision_days={"0": 10})
    kpi(m1, OUTSIDE, cases_online=1000)                 # after the period
    kpi(m1, D1, category="transport", cases_online=7)   # a category row, not the whole
    return {"r1": r1, "m1": m1, "m2": m2, "r2": r2, "m3": m3}


def ours():
    return Tenant.objects.filter(slug__startswith="kpi-")


# --- Roll-ups -------------------------------------------------------------------------------------


def test_roll_ups_sum_each_level_with_ratios_of_sums(fleet):
    levels = rollup.levels(PERIOD, scope=ours())
    m1 = levels.of_tenant(fleet["m1"])
    assert (m1.totals.cases, m1.totals.take_up) == (50, 40 / 50)
    assert m1.per_1000_residents == 50 * 1000 / 10_000
    region = levels.of_region(fleet["r1"])
    assert region.totals.cases == 20 + 50 + 20
    assert region.totals.take_up == 50 / 90
    mean_of_ratios = (10 / 20 + 40 / 50 + 0 / 20) / 3
    assert region.totals.take_up != pytest.approx(mean_of_ratios)
    assert region.totals.sla_compliance == 3 / 6
    assert region.totals.decision_time(0.5) == 5   # days 1, 1, 5, 5, 10, 10
    assert region.totals.decision_time(0.9) == 10
    assert region.totals.automation == 1 / 6
    assert region.per_1000_residents == 90 * 1000 / 1_000_000
    assert region.totals.cost == Decimal(1210)
    assert region.cost_per_case == (Decimal(1210) / 90).quantize(Decimal("0.01"))
    assert region.totals.funnel()[:2] == [("page_views", 100), ("forms_started", 40)]
    nation = levels.nation()
    assert nation.totals.cases == 90 + 10 + 100
    assert nation.totals.take_up == (50 + 5 + 90) / 200
    assert nation.population == 1_500_000
    assert nation.per_1000_residents == 200 * 1000 / 1_500_000


def test_a_category_and_the_period_select_their_rows(fleet):
    transport = rollup.levels(PERIOD, "transport", scope=ours())
    assert transport.of_tenant(fleet["m1"]).totals.cases == 7
    assert transport.of_region(fleet["r2"]).totals.cases == 0
    later = rollup.levels(rollup.Period(OUTSIDE, OUTSIDE), scope=ours())
    assert later.nation().totals.cases == 1000
    assert rollup.categories() == ["transport"]


def test_per_service_uses_the_latest_gauge_and_missing_population_is_not_ranked(fleet):
    levels = rollup.levels(PERIOD, scope=ours())
    m1, m2 = levels.of_tenant(fleet["m1"]), levels.of_tenant(fleet["m2"])
    assert m1.totals.gauges["services_published"] == 5  # day 2's, not day 1's 4
    assert m1.per_service == 50 / 5
    assert m2.per_1000_residents is None and m2.per_service is None
    ranked = rollup.rank(rollup.peers(levels, fleet["m1"]), rollup.INDICATORS["per_1000"])
    assert [(r.unit.name, r.rank) for r in ranked] == [("Тест kpi-m1", 1), ("Тест kpi-m2", None)]
    # A region without a population makes the nation's per-capita figure unknown.
    Tenant.objects.filter(pk=fleet["r2"].pk).update(population=None)
    levels = rollup.levels(PERIOD, scope=ours())
    assert levels.nation().population is None
    regions = rollup.rank(rollup.peers(levels, fleet["r1"]), rollup.INDICATORS["per_1000"])
    assert [(r.unit.name, r.rank) for r in regions] == [("Тест kpi-r1", 1), ("Тест kpi-r2", None)]


def test_rankings_put_the_best_first_and_share_ranks(fleet):
    levels = rollup.levels(PERIOD, scope=ours())
    regions = rollup.peers(levels, fleet["r2"])
    by_take_up = rollup.rank(regions, rollup.INDICATORS["take_up"])
    assert [r.unit.name for r in by_take_up] == ["Тест kpi-r2", "Тест kpi-r1"]  # 95/110 > 50/90
    by_days = rollup.rank(regions, rollup.INDICATORS["median_days"])
    assert [(r.unit.name, r.value) for r in by_days] == [("Тест kpi-r2", 0.0),
                                                         ("Тест kpi-r1", 5.0)]
    units = [rollup.Unit(n, levels.of_tenant(fleet["m1"]).totals, None) for n in "abc"]
    assert [r.rank for r in rollup.rank(units, rollup.INDICATORS["take_up"])] == [1, 1, 1]


def test_distribution_quartiles_by_nearest_rank():
    d = rollup.distribution([0.4, None, 0.1, 0.3, 0.2])
    assert (d.lowest, d.lower_quartile, d.median, d.upper_quartile, d.highest, d.n) == (
        0.1, 0.1, 0.2, 0.3, 0.4, 4)
    assert rollup.distribution([None]) is None


def test_trends_have_every_day_or_week_of_the_period(fleet):
    points = rollup.trend(PERIOD, scope=rollup.scope_of(fleet["r1"]))
    assert len(points) == 10 and points[0][0] == D1
    assert points[0][1].cases == 20 + 40 + 20 and points[1][1].take_up == 1.0
    assert points[2][1].cases == 0 and points[2][1].take_up is None
    year = rollup.Period(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    weekly = rollup.trend(year, scope=ours())
    assert all(day.weekday() == 0 for day, _t in weekly)
    assert 52 <= len(weekly) <= 54
    assert sum(t.cases for _d, t in weekly) == 200 + 1000


def test_levels_cost_the_same_queries_for_more_tenants(fleet):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            levels = rollup.levels(PERIOD)
            levels.nation()
            rollup.trend(PERIOD)
        return len(ctx.captured_queries)

    few = queries()
    for i in range(25):
        tenant = make_tenant(f"kpi-extra-{i}", "municipality", fleet["r1"], population=1000)
        kpi(tenant, D1, cases_online=i, decision_days={"2": 1})
    assert queries() == few <= 5


# --- Console pages -------------------------------------------------------------------------------


@pytest.fixture
def operator(client, fleet):
    return console_sign_in(client, console_account("kpi-op"))


@pytest.fixture
def regional(client, fleet):
    return console_sign_in(client, console_account("kpi-r1-admin", region=fleet["r1"]))


def recent(fleet):
    """The same figures two days ago (inside "the last 7 days", clear of today)."""
    day = platform_today() - datetime.timedelta(days=2)
    TenantKpi.objects.filter(day=D1).update(day=day)
    return day


def test_operator_dashboard_shows_the_nation_and_regions_compared(operator, fleet):
    recent(fleet)
    response = operator.get("/operator/kpis/?days=7", **PORTAL)
    assert response.status_code == 200
    context = response.context
    assert context["region"] is None and context["period"].days == 7
    names = [row["unit"].name for row in context["benchmark"]["ranking"]]
    assert {"Тест kpi-r1", "Тест kpi-r2"} <= set(names)
    html = response.content.decode()
    assert html.count('role="img"') >= 3 + len(rollup.INDICATORS) - 1
    assert 'id="channel-mix"' in html and 'id="funnel-table"' in html
    region = operator.get(f"/operator/kpis/?days=7&region={fleet['r1'].slug}", **PORTAL)
    assert region.context["unit"].totals.cases == 20 + 40 + 20
    assert [r["unit"].name for r in region.context["benchmark"]["ranking"]] == [
        "Тест kpi-m1", "Тест kpi-m2"]
    assert region.context["without_population"] == ["Тест kpi-m2"]
    assert operator.get("/operator/kpis/?region=nowhere", **PORTAL).status_code == 404


def test_filters_period_from_to_category_and_bad_input(operator, fleet):
    response = operator.get("/operator/kpis/?start=2026-10-01&end=2026-10-10"
                            f"&category=transport&region={fleet['r1'].slug}", **PORTAL)
    assert response.context["period"] == PERIOD
    assert response.context["unit"].totals.cases == 7
    for query in ("start=2026-10-10&end=2026-10-01", "start=2026-10-01", "days=12",
                  "start=завтра&end=2026-10-01", "category=" + "я" * 300,
                  "start=1990-01-01&end=2026-01-01", "sort=drop"):
        bad = operator.get(f"/operator/kpis/?{query}", **PORTAL)
        assert bad.status_code == 200, query
        assert bad.context["period"].days == 30 or query == "sort=drop", query
        if query != "sort=drop":
            assert b"govuk-error-summary" in bad.content, query


def test_regional_administrator_sees_their_region_only(regional, fleet):
    response = regional.get("/operator/kpis/", **PORTAL)
    assert response.status_code == 200 and response.context["region"] == fleet["r1"]
    names = {row["unit"].name for row in response.context["benchmark"]["ranking"]}
    assert names == {"Тест kpi-m1", "Тест kpi-m2"}
    assert "Тест kpi-r2" not in response.content.decode()
    assert regional.get(f"/operator/kpis/?region={fleet['r2'].slug}",
                        **PORTAL).status_code == 404
    for slug in ("kpi-r2", "kpi-m3"):
        assert regional.get(f"/operator/tenants/{slug}/kpis/", **PORTAL).status_code == 404
        assert regional.get(f"/operator/tenants/{slug}/population/", **PORTAL).status_code == 404
    own = regional.get("/operator/tenants/kpi-m1/kpis/?start=2026-10-01&end=2026-10-10",
                       **PORTAL)
    assert own.status_code == 200
    assert own.context["unit"].totals.cases == 50
    assert {r["unit"].name for r in own.context["benchmark"]["ranking"]} == {
        "Тест kpi-m1", "Тест kpi-m2"}
    assert [r["highlight"] for r in own.context["benchmark"]["ranking"]] == [True, False]
    region_page = regional.get("/operator/tenants/kpi-r1/kpis/", **PORTAL)
    assert region_page.status_code == 200 and region_page.context["benchmark"] is None
    assert regional.get("/operator/kpis/cost-model/", **PORTAL).status_code == 404
    assert regional.post("/operator/kpis/cost-model/", {"online": 1, "office": 1, "phone": 1,
                         "post": 1, "valid_from": "2099-01-01"}, **PORTAL).status_code == 404
    assert ChannelCostModel.objects.count() == 1


def test_operator_sees_a_region_among_the_regions(operator, fleet):
    page = operator.get("/operator/tenants/kpi-r2/kpis/?start=2026-10-01&end=2026-10-10",
                        **PORTAL)
    assert page.context["unit"].totals.cases == 110
    ranking = page.context["benchmark"]["ranking"]
    assert {"Тест kpi-r1", "Тест kpi-r2"} <= {r["unit"].name for r in ranking}
    assert next(r for r in ranking if r["highlight"])["unit"].name == "Тест kpi-r2"


def test_dashboard_query_count_is_constant_in_the_number_of_tenants(operator, fleet):
    def queries(path):
        with CaptureQueriesContext(connection) as ctx:
            assert operator.get(path, **PORTAL).status_code == 200
        return len(ctx.captured_queries)

    recent(fleet)  # rows in the default period, so every query of the page runs
    paths = ["/operator/kpis/", f"/operator/kpis/?region={fleet['r1'].slug}",
             "/operator/tenants/kpi-m1/kpis/", "/operator/tenants/kpi-r1/kpis/"]
    few = [queries(p) for p in paths]
    for i in range(20):
        region = make_tenant(f"kpi-xr-{i}", "region", population=1000 + i)
        muni = make_tenant(f"kpi-xm-{i}", "municipality", fleet["r1"])
        kpi(region, platform_today() - datetime.timedelta(days=3), cases_online=i)
        kpi(muni, platform_today() - datetime.timedelta(days=3), cases_office=i,
            decision_days={"3": 1})
    assert [queries(p) for p in paths] == few


def test_population_is_edited_in_scope_with_form_errors(regional, fleet):
    url = "/operator/tenants/kpi-m2/population/"
    assert regional.get(url, **PORTAL).status_code == 200
    for bad in ("abc", "0", "-5", "1.5", "сто", "9" * 30, "12\x00"):
        response = regional.post(url, {"population": bad}, **PORTAL)
        assert response.status_code == 400, bad
        assert b"govuk-error-summary" in response.content, bad
    assert Tenant.objects.get(pk=fleet["m2"].pk).population is None
    response = regional.post(url, {"population": " 12500 "}, **PORTAL)
    assert response.status_code == 302
    assert Tenant.objects.get(pk=fleet["m2"].pk).population == 12500
    event = AuditEvent.objects.filter(details__action="set_population",
                                      object_id=str(fleet["m2"].pk)).get()
    assert event.details["after"] == 12500 and event.details["before"] is None
    assert regional.post(url, {"population": ""}, **PORTAL).status_code == 302
    assert Tenant.objects.get(pk=fleet["m2"].pk).population is None
    assert regional.post("/operator/tenants/kpi-m3/population/", {"population": "5"},
                         **PORTAL).status_code == 404
    assert Tenant.objects.get(pk=fleet["m3"].pk).population == 20_000


def test_cost_model_versions_are_added_never_edited_and_audited(client, fleet):
    user = console_account("kpi-cost-op")
    console_sign_in(client, user)
    first = ChannelCostModel.objects.get(version=1)
    page = client.get("/operator/kpis/cost-model/", **PORTAL)
    assert page.status_code == 200 and 'id="versions"' in page.content.decode()
    tomorrow = (platform_today() + datetime.timedelta(days=2)).isoformat()
    new = {"online": "1.5", "office": "60", "phone": "10", "post": "30", "unit": "",
           "valid_from": tomorrow, "note": "Пересмотр тарифов"}
    for field, bad in (("office", "-1"), ("valid_from", "2000-01-01"), ("online", "много"),
                       ("valid_from", "2026-13-45")):
        response = client.post("/operator/kpis/cost-model/", {**new, field: bad}, **PORTAL)
        assert response.status_code == 400, field
    assert ChannelCostModel.objects.count() == 1
    response = client.post("/operator/kpis/cost-model/", new, **PORTAL)
    assert response.status_code == 302
    second = ChannelCostModel.objects.get(version=2)
    assert (second.online, second.office, second.created_by) == (Decimal("1.5"), 60,
                                                                 "kpi-cost-op")
    first_again = ChannelCostModel.objects.get(version=1)
    assert (first_again.office, first_again.phone) == (first.office, first.phone)
    event = AuditEvent.objects.filter(details__action="create_cost_model",
                                      object_id=str(second.pk)).get()
    assert Decimal(event.details["office"]) == 60 and event.actor_display
    # A version may not start before the one in force.
    response = client.post("/operator/kpis/cost-model/",
                           {**new, "valid_from": platform_today().isoformat()}, **PORTAL)
    assert response.status_code == 400 and ChannelCostModel.objects.count() == 2


def test_cost_model_asks_for_the_password_when_the_last_check_is_old(client, fleet):
    console_sign_in(client, console_account("kpi-cost-op2"), checked=False)
    new = {"online": "1", "office": "40", "phone": "20", "post": "30",
           "valid_from": (platform_today() + datetime.timedelta(days=2)).isoformat()}
    response = client.post("/operator/kpis/cost-model/", new, **PORTAL)
    assert response.status_code == 400 and ChannelCostModel.objects.count() == 1
    response = client.post("/operator/kpis/cost-model/", {**new, "password": "wrong"},
                           **PORTAL)
    assert response.status_code == 400 and ChannelCostModel.objects.count() == 1
    response = client.post("/operator/kpis/cost-model/", {**new, "password": PASSWORD},
                           **PORTAL)
    assert response.status_code == 302
    assert ChannelCostModel.objects.get(version=2).office == 40


def test_tenant_page_links_to_its_indicators(operator, session_tenants):
    html = operator.get("/operator/tenants/ryabinovka/", **PORTAL).content.decode()
    assert "/operator/tenants/ryabinovka/kpis/" in html
    assert "/operator/tenants/ryabinovka/population/" in html


def test_roll_ups_are_reused_for_the_cache_time_then_recomputed(operator, fleet, settings):
    from django.core.cache import cache

    recent(fleet)
    settings.DGBOX_CONSOLE_KPI_CACHE_SECONDS = 60
    cache.clear()
    try:
        path = f"/operator/kpis/?days=7&region={fleet['r1'].slug}"
        with CaptureQueriesContext(connection) as cold:
            first = operator.get(path, **PORTAL).context["unit"].totals.cases
        with CaptureQueriesContext(connection) as warm:
            assert operator.get(path, **PORTAL).context["unit"].totals.cases == first == 80
        assert len(warm.captured_queries) < len(cold.captured_queries)
        # Another region's figures are kept apart.
        other = operator.get(f"/operator/kpis/?days=7&region={fleet['r2'].slug}", **PORTAL)
        assert other.context["unit"].totals.cases == 110
        cache.clear()  # as when the cache time is over
        kpi(fleet["m2"], platform_today() - datetime.timedelta(days=3), cases_online=5)
        assert operator.get(path, **PORTAL).context["unit"].totals.cases == 85
    finally:
        cache.clear()
