"""The tenant's KPI dashboard (Performance in its Wagtail admin, services/kpis/views.py,
docs/kpi-dashboard.md), on snapshot rows made here with known numbers:

- the headline figures, the per-service table, the charts' tables show what the rows add up
  to (take-up, on time, median and 90th percentile days, automation, usefulness, cost and
  saving with the cost model's version, services online and with an API);
- the period, from-to dates, service and category filters narrow them; bad input gives a
  form error on the page, never a 500;
- administrators and case workers see it, an editor is refused, "Can view KPI snapshot"
  opens it to any group;
- a tenant without snapshots says so; another tenant's snapshots never show;
- the number of queries does not grow with the days or the services.

The admin speaks Russian here: assertions read ids, data attributes, figures and Russian text.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context
from wagtail.models import Page

from cms.models import ServicePage
from services.cases.escalation import today
from services.kpis.models import KpiSnapshot
from tenants.console.charts import hbar_chart, line_chart
from tenants.models import ServiceCategory

from .factories import NORTH, SOUTH, StaffFactory

pytestmark = pytest.mark.django_db
URL = "/admin/performance/"


def snapshot(day, page=None, **figures):
    figures.setdefault("computed_at", timezone.now())
    return KpiSnapshot.objects.create(day=day, page=page, **figures)


@pytest.fixture
def north(tenant_a):
    """Tenant A's snapshots: two days of the last week, one two months ago, two services in
    two categories; its administrator signed in (reading the admin in Russian)."""
    with tenant_context(tenant_a):
        KpiSnapshot.objects.all().delete()
        now = today()
        d1, d2, old = (now - datetime.timedelta(days=5), now - datetime.timedelta(days=4),
                       now - datetime.timedelta(days=60))
        pages = list(ServicePage.objects.filter(locale__language_code="ru").order_by("pk")[:2])
        categories = list(ServiceCategory.objects.order_by("code")[:2])
        permit, benefit = pages
        cat1, cat2 = (c.code for c in categories)
        snapshot(d1, cases_online=8, cases_office=1, cases_phone=1, decided=4,
                 decided_with_deadline=4, decided_on_time=3, decided_automatically=1,
                 decision_days={"1": 2, "3": 1, "10": 1}, page_views=100, forms_started=20,
                 feedback_useful=9, feedback_not_useful=1, cost=Decimal(78),
                 savings=Decimal(422), cost_model_version=1, services_published=10,
                 services_online=6, services_api=2)
        snapshot(d2, cases_online=9, cases_office=1, decided=6, decided_with_deadline=5,
                 decided_on_time=5, decided_automatically=3, decision_days={"2": 6},
                 page_views=50, forms_started=10, feedback_useful=3, feedback_not_useful=3,
                 cost=Decimal(59), savings=Decimal(441), cost_model_version=1,
                 services_published=10, services_online=7, services_api=3)
        snapshot(old, cases_online=1, cases_office=99, cost=Decimal(4951),
                 savings=Decimal(49), cost_model_version=1)
        snapshot(d1, permit, category=cat1, cases_online=5, cases_office=1, decided=2,
                 decided_with_deadline=2, decided_on_time=1, decision_days={"1": 2},
                 page_views=70, forms_started=12, cost=Decimal(55), savings=Decimal(245),
                 cost_model_version=1)
        snapshot(d2, benefit, category=cat2, cases_online=3, cases_phone=1, decided=4,
                 decided_with_deadline=4, decided_on_time=4, decision_days={"2": 4},
                 page_views=30, forms_started=6, cost=Decimal(23), savings=Decimal(177),
                 cost_model_version=1)
        admin = get_user_model().objects.get(email="admin@north.example")
        client = Client(**NORTH)
        client.force_login(admin)
    connection.set_schema_to_public()
    return {"client": client, "tenant": tenant_a, "permit": permit, "benefit": benefit,
            "cat1": cat1, "cat2": cat2, "d1": d1, "d2": d2, "old": old}


def page(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def headline(html):
    """{data-kpi: the figure shown} of the headline cards (tags and spaces dropped)."""
    cards = re.findall(r'<div data-kpi="([a-z0-9-]+)"><dt>.*?</dt><dd>(.*?)</dd>', html, re.S)
    return {name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", value)).replace("\xa0", " ")
            .strip() for name, value in cards}


def service_rows(html):
    """{page id: [cells]} of the per-service table."""
    rows = re.findall(r'<tr data-page="(\d+)">(.*?)</tr>', html, re.S)
    return {int(pk): [re.sub(r"<[^>]+>", "", cell).replace("\xa0", " ").strip()
                      for cell in re.findall(r"<td>(.*?)</td>", cells, re.S)]
            for pk, cells in rows}


def test_known_rows_give_the_figures_shown(north):
    html = page(north["client"], period=7)
    assert "<h1" in html and 'id="kpi-headline"' in html
    figures = headline(html)
    assert figures["cases"] == "20"
    assert figures["take-up"] == "85%"           # 17 of 20 online
    assert figures["sla"] == "88,9%"             # 8 of 9 with a deadline
    assert figures["median"] == "2"              # {1: 2, 2: 6, 3: 1, 10: 1}: 5th of 10
    assert figures["p90"] == "3"                 # 9th of 10
    assert figures["automation"] == "40%"        # 4 of 10
    assert figures["usefulness"] == "75%"        # 12 of 16
    assert figures["cost"].startswith("137 ") and figures["savings"].startswith("863 ")
    assert figures["online"] == "70%" and figures["api"] == "30%"  # the latest day: 7, 3 of 10
    assert "v1" in html  # the cost model's version
    assert 'data-target="within"' in html  # the document's 80-90% target
    # Per service: the permit's 6 cases, 5 online; the benefit's on-time share.
    rows = service_rows(html)
    assert set(rows) == {north["permit"].pk, north["benefit"].pk}
    permit, benefit = rows[north["permit"].pk], rows[north["benefit"].pk]
    assert permit[:4] == ["6", "83,3%", "50%", "1"]
    assert benefit[:4] == ["4", "75%", "100%", "2"]
    # The charts: SVG with a summary, their figures in tables.
    assert html.count('class="dgbox-chart"') == 4
    charts = re.findall(r'<svg class="dgbox-chart"[^>]* role="img" aria-label="[^"]+"', html)
    assert len(charts) == 4
    funnel = html.split('id="kpi-funnel"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"<td>150</td><td>—</td>", funnel)  # page views, the first step
    assert re.search(r"<td>30</td><td>20%</td><td>20%</td>", funnel)  # forms started
    channels = html.split('id="kpi-channels"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"<td>17</td><td>85%</td>", channels)
    trend = html.split('id="kpi-trend"', 1)[1].split("</section>", 1)[0]
    assert trend.count("<tr>") == 1 + 7  # header and the period's seven days
    assert "<details>" in trend


def test_filters_narrow_the_figures(north):
    client = north["client"]
    assert headline(page(client))["cases"] == "20"                 # 30 days: the old day out
    assert headline(page(client, period=90))["cases"] == "120"     # 90 days: in
    assert 'data-bucket="day"' in page(client, period=90)
    long = page(client, period=365)
    assert 'data-bucket="week"' in long
    only_permit = page(client, period=7, service=north["permit"].pk)
    assert headline(only_permit)["cases"] == "6"
    assert set(service_rows(only_permit)) == {north["permit"].pk}
    assert 'id="kpi-only"' in only_permit and north["permit"].title in only_permit
    only_cat2 = page(client, period=7, category=north["cat2"])
    assert headline(only_cat2)["cases"] == "4"
    assert set(service_rows(only_cat2)) == {north["benefit"].pk}
    neither = page(client, period=7, service=north["permit"].pk, category=north["cat2"])
    assert 'id="kpi-no-data" data-why="period"' in neither  # no row is in both
    day = north["d1"].isoformat()
    one_day = page(client, since=day, until=day)
    assert headline(one_day)["cases"] == "10"
    assert set(service_rows(one_day)) == {north["permit"].pk}
    since_only = page(client, since=north["old"].isoformat())
    assert headline(since_only)["cases"] == "120"
    years_ago = page(client, since="2001-01-01", until="2001-12-31")
    assert 'id="kpi-no-data" data-why="period"' in years_ago


@pytest.mark.parametrize("params", [
    {"since": "2026-13-40"}, {"since": "вчера"}, {"until": "2026-01-01"},
    {"since": "2026-02-01", "until": "2026-01-01"}, {"since": "0001-01-01"},
    {"since": "9999-12-31"}, {"since": "0001-01-01", "until": "9999-12-31"},
    {"since": "2026-01-01\x00"}, {"period": "5"}, {"period": "x" * 5000},
    {"service": "999999999"}, {"service": "Путь\x00"}, {"service": "9" * 40},
    {"category": "<script>"}, {"category": "\x00"},
])
def test_bad_input_is_a_form_error_never_a_500(north, params):
    response = north["client"].get(URL, params)
    if any("\x00" in value for value in params.values()):
        # dgbox refuses a null byte in a request before any view (tests/test_bad_input.py).
        assert response.status_code == 400
        return
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="kpi-form-errors"' in html or "error-message" in html
    assert "<script>" not in html.split('id="kpi-period"', 1)[1]
    # The default period's figures are shown, said to be so.
    assert headline(html)["cases"] == "20"


def test_who_sees_the_dashboard(north):
    tenant = north["tenant"]
    with tenant_context(tenant):
        editor = StaffFactory(groups=["Editors"])
        moderator = StaffFactory(groups=["Moderators"])
        case_worker = StaffFactory(groups=["Case workers"])
        administrator = StaffFactory(groups=["Administrators"])
        given = StaffFactory(permissions=["wagtailadmin.access_admin",
                                          "kpis.view_kpisnapshot"])
        clients = []
        for user in (editor, moderator, case_worker, administrator, given):
            clients.append(Client(**NORTH))
            clients[-1].force_login(user)
    for client, allowed in zip(clients, (False, False, True, True, True), strict=True):
        response = client.get(URL)
        home = client.get("/admin/").content.decode()
        if allowed:
            assert response.status_code == 200
            assert headline(response.content.decode())["cases"] == "20"
            assert f'"{URL}"' in home  # the menu (Wagtail's sidebar, JSON in the page)
        else:
            # Wagtail's admin answers a refusal with its dashboard and a message.
            assert response.status_code == 302 and response["Location"] == "/admin/"
            assert f'"{URL}"' not in home
    # Refused outright when asked as a script would (Wagtail raises, Django answers 403).
    assert clients[0].get(URL, headers={"x-requested-with": "XMLHttpRequest"}).status_code == 403
    assert Client(**NORTH).get(URL).status_code == 302  # not signed in: the login page


def test_a_tenant_without_snapshots_says_so(north, session_tenants):
    empty = session_tenants["m"]
    with tenant_context(empty):
        assert not KpiSnapshot.objects.exists()
        admin = get_user_model().objects.filter(is_superuser=True).first()
        client = Client(HTTP_HOST=empty.get_primary_domain().domain)
        client.force_login(admin)
    for params in ({}, {"period": 365}, {"since": "2020-01-01"}):
        html = page(client, **params)
        assert 'id="kpi-no-data" data-why="none yet"' in html
        assert "dgbox-chart" not in html and not headline(html)


def test_another_tenants_snapshots_never_show(north, tenant_b):
    with tenant_context(tenant_b):
        KpiSnapshot.objects.all().delete()
        south_page = Page.objects.filter(depth__gt=2).order_by("-pk").first()
        snapshot(north["d1"], cases_online=4242, page_views=777777)
        snapshot(north["d1"], south_page, cases_online=4243)
        south = Client(**SOUTH)
        south.force_login(get_user_model().objects.get(email="admin@south.example"))
    html = page(north["client"], period=7)
    plain = html.replace("\xa0", "").replace(" ", "")
    assert "4242" not in plain and "4243" not in plain and "777777" not in plain
    assert headline(html)["cases"] == "20"
    # South's own page shows South's figures; North's service ids mean nothing there.
    south_html = page(south, period=7)
    assert headline(south_html)["cases"] == "4 242"
    assert 'id="kpi-form-errors"' in page(south, service=north["permit"].pk) or \
        "error-message" in page(south, service=north["permit"].pk)


def test_queries_do_not_grow_with_days_or_services(north):
    client = north["client"]
    page(client, period=7)  # warm: the session, the user, Wagtail's site and settings
    with CaptureQueriesContext(connection) as small:
        page(client, period=7)
    with tenant_context(north["tenant"]):
        pages = list(Page.objects.filter(depth__gt=1).order_by("pk")[:12])
        start = today() - datetime.timedelta(days=250)
        rows = [KpiSnapshot(day=start + datetime.timedelta(days=i), page=p, category="x",
                            cases_online=i, cases_office=1, decided=1, decided_with_deadline=1,
                            decided_on_time=i % 2, decision_days={str(i % 9): 1},
                            cost_model_version=1, computed_at=timezone.now())
                for i in range(180) for p in [None, *pages]]
        KpiSnapshot.objects.bulk_create(rows)
    with CaptureQueriesContext(connection) as large:
        html = page(client, period=365)
    assert len(service_rows(html)) >= 12
    def counted(context):
        return [q["sql"][:100] for q in context.captured_queries
                if not q["sql"].startswith("SET search_path")]

    assert len(counted(large)) == len(counted(small)), counted(large)
    assert len(counted(small)) <= 16


def test_charts_write_large_counts_and_long_names_legibly():
    """A million page views is written as its digits, not as 1.23457e+06; a long service name
    is shortened on the chart (whole in its tooltip and summary)."""
    name = "Предоставление места для захоронения на муниципальном кладбище"
    bars = str(hbar_chart([(name, 1234567), ("Онлайн", 3)], title="Воронка", width=420,
                          label_width=170))
    assert "1234567" in bars and "e+06" not in bars
    assert f"<title>{name}: 1234567</title>" in bars and f">{name}</text>" not in bars
    assert 'viewBox="0 0 420 ' in bars
    line = str(line_chart(["1", "2"], [("Обращения", [2000000.0, 3.5])], title="Тренд"))
    assert "2000000" in line and "e+06" not in line and "3.5" in line
