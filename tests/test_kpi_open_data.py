"""KPIs as open data (services/kpis/publication.py): `GET /api/v1/kpis` in JSON and CSV, and the
public page "How we are doing" (/ru/how-we-are-doing/).

- Small-number suppression: 9 is withheld, 10 and 0 are published; a ratio, a cost or a time
  to decision that would reveal a withheld count is withheld too, and so is a part whose rest
  is small (on time out of decided with a deadline).
- No personal data: snapshots and cases with a recognisable applicant, and feedback with a
  comment, and none of them appears in the JSON, the CSV or the page; the fields are a fixed
  list.
- CSV: header row, UTF-8 with a Cyrillic service title, formula injection defused.
- Filters (service, category, granularity) and bad input (Cyrillic, NUL, reversed dates, too
  long a period, unknown service) are 400 problems, never 500.
- Cache-Control and ETag; If-None-Match gets a 304.
- Isolation: tenant B's figures never appear on tenant A's host.
"""

import csv
import datetime
import io
import json

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from cms.models import PageFeedback, ServicePage
from services.cases.models import Channel
from services.kpis import publication
from services.kpis.models import KpiSnapshot
from services.kpis.public_page import last_complete_months
from tenants.kpis import figures

from .factories import NORTH, SOUTH, OnlineServiceFactory, make_cases

PROBLEM = "application/problem+json"
MARCH = datetime.date(2025, 3, 1)
#: What the applicant and the reader leave behind: none of it may ever be published.
PERSONAL = ("Зинаида Уникальнова", "zinaida.unique@example.org", "+79991234567",
            "секретный-комментарий-42", "KPIOPEN-REF")


def snapshot(day, page=None, **counts):
    return KpiSnapshot.objects.create(day=day, page=page, computed_at=timezone.now(), **counts)


def get(path, host=NORTH, **extra):
    return Client(**host).get(path, **extra)


def month_of(response, period="2025-03"):
    rows = {row["period"]: row for row in response.json()["results"]}
    return rows[period]


def assert_problem(response, field=None):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    if field:
        assert field in body["errors"], body
    return body


# --- The rule, on totals with known answers ---------------------------------------------------

def test_nine_is_withheld_ten_and_zero_are_published():
    totals = figures.total([{"day": MARCH, "cases_online": 10, "cases_office": 0,
                             "cases_phone": 9, "feedback_useful": 0}])
    row = publication.publish(totals, 10)
    assert row["cases_online"] == 10 and row["cases_office"] == 0 and row["cases_post"] == 0
    assert row["cases_phone"] is None and "cases_phone" in row["suppressed"]
    # Take-up (10 of 19), the cost and the saving would reveal the 9 phone cases.
    assert row["take_up"] is None and row["cost"] is None and row["savings"] is None
    assert {"take_up", "cost", "savings"} <= set(row["suppressed"])
    assert row["feedback_useful"] == 0 and "feedback_useful" not in row["suppressed"]


def test_ratios_are_withheld_when_their_rest_is_small_and_published_otherwise():
    # 95 of 100 decided on time: both counts are large, but 5 were late.
    late = publication.publish(figures.total([{
        "day": MARCH, "decided": 100, "decided_with_deadline": 100, "decided_on_time": 95,
        "decided_automatically": 0, "decision_days": {"3": 100}}]), 10)
    assert late["decided_with_deadline"] == 100 and late["decided"] == 100
    assert late["decided_on_time"] is None and late["sla_compliance"] is None
    assert {"decided_on_time", "sla_compliance"} <= set(late["suppressed"])
    assert late["automation"] == 0 and late["median_days"] == 3
    fine = publication.publish(figures.total([{
        "day": MARCH, "cases_online": 80, "cases_office": 20, "decided": 30,
        "decided_with_deadline": 30, "decided_on_time": 20, "decision_days": {"2": 15, "9": 15},
        "feedback_useful": 12, "feedback_not_useful": 10, "cost": "1080.00",
        "savings": "3920.00"}]), 10)
    assert fine["take_up"] == 0.8 and fine["sla_compliance"] == round(20 / 30, 4)
    assert fine["usefulness"] == round(12 / 22, 4)
    assert fine["cost"] == 80 * 1 + 20 * 50 and fine["savings"] == 80 * 49
    assert (fine["median_days"], fine["p90_days"]) == (2, 9)
    assert fine["suppressed"] == []


def test_times_to_decision_need_enough_decisions():
    row = publication.publish(figures.total([{"day": MARCH, "decided": 0,
                                              "decision_days": {"4": 3}}]), 10)
    assert row["median_days"] is None and "median_days" in row["suppressed"]


def test_months_cut_at_the_period_ends():
    spans = publication.periods(datetime.date(2025, 1, 15), datetime.date(2025, 3, 10), "month")
    assert [(p.label, p.first.day, p.last.day) for p in spans] == [
        ("2025-01", 15, 31), ("2025-02", 1, 28), ("2025-03", 1, 10)]
    assert last_complete_months(datetime.date(2026, 1, 20)) == (
        datetime.date(2025, 1, 1), datetime.date(2025, 12, 31))


# --- The API ----------------------------------------------------------------------------------

@pytest.fixture
def figures_a(tenant_a, settings):
    """North's March 2025: two days overall, a service with a Cyrillic, formula-like title, its
    cases with a recognisable applicant, and feedback with a comment."""
    settings.DGBOX_KPI_SUPPRESS_BELOW = 10
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        page = service.page
        ServicePage.objects.filter(pk=page.pk).update(
            title="=ГИПЕРССЫЛКА(\"http://evil\") Разрешение на строительство")
        make_cases(service, 3, applicant_name=PERSONAL[0], applicant_email=PERSONAL[1],
                   applicant_phone=PERSONAL[2], channel=Channel.OFFICE,
                   each=lambda i: {"reference": f"{PERSONAL[4]}-{i}"})
        PageFeedback.objects.create(page=page, useful=False, comment=PERSONAL[3])
        snapshot(MARCH, cases_online=40, cases_office=9, cases_phone=0, cases_post=10,
                 decided=30, decided_with_deadline=20, decided_on_time=20,
                 decision_days={"1": 10, "5": 20}, feedback_useful=10, feedback_not_useful=0,
                 page_views=500, forms_started=60)
        snapshot(MARCH.replace(day=2), cases_online=1)
        snapshot(MARCH, page=page, category="land", cases_online=12, cases_office=10,
                 decided=10, decided_with_deadline=10, decided_on_time=10)
    connection.set_schema_to_public()
    return page


def test_months_sum_days_and_apply_the_rule(figures_a):
    response = get("/api/v1/kpis?from=2025-02-01&to=2025-04-30")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["from"], body["to"], body["granularity"]) == ("2025-02-01", "2025-04-30",
                                                               "month")
    assert body["suppress_below"] == 10 and body["service"] is None
    assert [row["period"] for row in body["results"]] == ["2025-02", "2025-03", "2025-04"]
    march = month_of(response)
    assert march["cases_online"] == 41 and march["cases_post"] == 10
    assert march["cases_office"] is None and march["cases_phone"] == 0
    assert march["take_up"] is None and march["cost"] is None
    assert {"cases_office", "take_up", "cost", "savings"} <= set(march["suppressed"])
    assert march["sla_compliance"] == 1.0 and march["median_days"] == 5
    assert march["usefulness"] == 1.0 and march["page_views"] == 500
    assert body["results"][0]["cases_online"] == 0  # a month without figures: zeros
    days = get("/api/v1/kpis?from=2025-03-01&to=2025-03-02&granularity=day").json()["results"]
    assert [(d["period"], d["cases_online"]) for d in days] == [("2025-03-01", 40),
                                                                 ("2025-03-02", None)]


def test_the_fields_are_a_fixed_list_with_no_personal_data(figures_a):
    for path in ("/api/v1/kpis?from=2025-03-01&to=2025-03-31",
                 f"/api/v1/kpis?from=2025-03-01&to=2025-03-31&service={figures_a.pk}",
                 "/api/v1/kpis?from=2025-03-01&to=2025-03-31&format=csv",
                 f"/api/v1/kpis?from=2025-03-01&to=2025-03-31&service={figures_a.pk}"
                 "&format=csv&granularity=day"):
        text = get(path).content.decode()
        for personal in PERSONAL:
            assert personal not in text, (path, personal)
    body = get("/api/v1/kpis?from=2025-03-01&to=2025-03-31").json()
    assert set(body) == {"from", "to", "granularity", "service", "category", "suppress_below",
                         "results"}
    assert set(body["results"][0]) == {"period", "from", "to", "suppressed",
                                       *publication.FIELDS}


def test_a_service_and_a_category_filter(figures_a):
    one = get(f"/api/v1/kpis?from=2025-03-01&to=2025-03-31&service={figures_a.pk}").json()
    assert one["service"]["id"] == figures_a.pk
    assert one["service"]["title"].startswith("=ГИПЕРССЫЛКА")  # JSON keeps it as it is
    row = one["results"][0]
    assert (row["cases_online"], row["cases_office"], row["take_up"]) == (12, 10, 0.5455)
    category = get("/api/v1/kpis?from=2025-03-01&to=2025-03-31&category=land").json()
    assert category["category"] == "land"
    assert category["results"][0]["cases_online"] == 12
    other = get("/api/v1/kpis?from=2025-03-01&to=2025-03-31&category=education").json()
    assert other["results"][0]["cases_online"] == 0


def test_csv_with_a_header_cyrillic_and_no_formulas(figures_a):
    response = get(f"/api/v1/kpis?from=2025-03-01&to=2025-03-31&service={figures_a.pk}",
                   HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["service_title"] == "'=ГИПЕРССЫЛКА(\"http://evil\") Разрешение на строительство"
    assert (row["period"], row["cases_online"], row["cases_office"]) == ("2025-03", "12", "10")
    overall = get("/api/v1/kpis?from=2025-03-01&to=2025-03-31&format=csv")
    header, first = overall.content.decode().splitlines()[:2]
    assert header.startswith("period,from,to,service_id,service_title,category,cases_online")
    cells = next(csv.DictReader(io.StringIO(overall.content.decode())))
    assert cells["cases_office"] == "" and "cases_office" in cells["suppressed"].split()
    assert cells["cases_phone"] == "0"
    assert not any(value.startswith(("=", "+", "-", "@")) for value in cells.values())


def test_bad_input_is_a_400_problem_never_a_500(figures_a):
    for query, field in (("from=2025-04-01&to=2025-03-01", "from"),
                         ("from=первое&to=2025-03-01", "from"),
                         ("from=2025-03-01%00&to=2025-03-31", "from"),
                         ("to=2025-03-31%00", "to"),
                         ("granularity=неделя", "granularity"),
                         ("granularity=day&from=2024-01-01&to=2025-03-31", "to"),
                         ("category=строительство", "category"),
                         ("category=%00", "category"),
                         ("service=абв", "service"),
                         ("service=99999999999999999999999", "service"),
                         ("service=999999", "service"),
                         (f"service={figures_a.pk}%00", "service"),
                         ("from=" + "9" * 5000, "from"),
                         ("from=9999-12-01&to=9999-12-31", "from"),
                         ("to=0001-01-05", "to")):
        # A NUL is refused before the view by the site's middleware (still a 400 problem).
        body = assert_problem(get(f"/api/v1/kpis?{query}"), None if "%00" in query else field)
        assert body["status"] == 400
    # By day without `from`: the 30 days up to `to`.
    days = get("/api/v1/kpis?granularity=day&to=2025-03-31").json()
    assert (days["from"], len(days["results"])) == ("2025-03-02", 30)
    # A CSV request that is wrong is still a problem in JSON.
    assert_problem(get("/api/v1/kpis?granularity=x&format=csv"), "granularity")
    assert get("/api/v1/kpis", HTTP_ACCEPT="application/xml").status_code == 406


def test_cached_with_an_etag_and_a_304(figures_a):
    path = "/api/v1/kpis?from=2025-03-01&to=2025-03-31"
    first = get(path)
    assert first["Cache-Control"] == "public, max-age=60" and first["ETag"]
    assert "Accept" in first["Vary"]
    again = get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    as_csv = get(path, HTTP_ACCEPT="text/csv")
    assert as_csv["ETag"] != first["ETag"]


def test_tenant_b_figures_never_on_tenant_a_host(figures_a, tenant_b):
    with tenant_context(tenant_b):
        snapshot(MARCH, cases_online=4321, cases_office=1234)
    connection.set_schema_to_public()
    path = "/api/v1/kpis?from=2025-03-01&to=2025-03-31"
    assert month_of(get(path, SOUTH))["cases_online"] == 4321
    north = get(path)
    assert month_of(north)["cases_online"] == 41
    assert b"4321" not in north.content and b"1234" not in north.content
    # The same page id on B's host is B's own page (same demo content), with B's figures.
    south = get(f"{path}&service={figures_a.pk}", SOUTH).json()
    assert not south["service"]["title"].startswith("=")
    assert south["results"][0]["cases_online"] == 0


# --- The page ---------------------------------------------------------------------------------

def test_the_page_shows_twelve_months_withheld_figures_and_no_personal_data(
        figures_a, tenant_a, tenant_b):
    first, last = last_complete_months(timezone.localdate())
    month = last.replace(day=15)
    with tenant_context(tenant_a):
        snapshot(month, cases_online=90, cases_office=10, cases_phone=0, cases_post=0,
                 decided=40, decided_with_deadline=40, decided_on_time=30,
                 decision_days={"4": 20, "12": 20}, feedback_useful=7, feedback_not_useful=20)
    with tenant_context(tenant_b):
        snapshot(month, cases_online=4321)
    connection.set_schema_to_public()
    response = get("/ru/how-we-are-doing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1 and 'id="kpi-summary"' in html
    assert html.count('role="img"') == 5 and html.count("<table") == 2
    assert "90%" in html  # take-up of the month (and the target)
    assert "4321" not in html and "4 321" not in html
    for personal in PERSONAL:
        assert personal not in html
    # Feedback: 7 "useful" answers are withheld, and so is the share (7 of 27, 26%).
    assert "26%" not in html.split('id="kpi-months"')[1]
    assert "75%" in html.split('id="kpi-months"')[1]  # on time: 30 of 40
    assert f"from={first.isoformat()}" in html and "format=csv" in html
    assert len(response.content) < 30_000, len(response.content)  # light: no scripts of its own
    # The footer of every page links to it.
    assert 'href="/ru/how-we-are-doing/"' in get("/ru/").content.decode()
    assert get("/ru/how-we-are-doing/", REQUEST_METHOD="POST").status_code in (405,)
