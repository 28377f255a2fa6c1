"""The public read-only /api/v1/ (services/api/public/) and its contract (services/api/openapi.py).

- Isolation: a tenant's services, offices and news are never served on another tenant's host,
  whose pages have the same ids.
- Drafts, unpublished and private (restricted) pages are never served.
- Filters (text in Russian, life event, category, online, locale, updated_since) and their
  errors; Cyrillic and NUL in every filter.
- Cursor pagination walks every item once; a forged cursor is a 400.
- ETag and Cache-Control; If-None-Match gets a 304; a publication changes the ETag.
- Every kind of error under /api/v1/ is application/problem+json.
- A list costs the same number of queries whatever its length.
- The OpenAPI document, its reference page, and the committed copy is up to date.
"""

import base64
import datetime
import json
import re
from pathlib import Path

import pytest
import yaml
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework import exceptions
from wagtail.models import Locale, PageViewRestriction

from cms.models import NewsPage, OfficePage, ServiceChannel, ServiceIndexPage, ServicePage
from services.api import openapi, problems
from services.api.models import ApiClient
from services.api.public.views import ServiceList
from services.api.scopes import Scope

from .factories import NORTH, SOUTH, OnlineServiceFactory

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = "application/problem+json"


def get(path, host=NORTH, **extra):
    return Client(**host).get(path, **extra)


def ids(response):
    return [item["id"] for item in response.json()["results"]]


def titles(response):
    return {item["title"] for item in response.json()["results"]}


def assert_problem(response, status):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == PROBLEM, response["Content-Type"]
    body = json.loads(response.content)
    assert body["status"] == status and body["title"] and body["detail"], body
    return body


def add_service(tenant, title, *, publish=True, slug=None, **fields):
    with tenant_context(tenant):
        index = ServiceIndexPage.objects.filter(locale__language_code="ru").first()
        page = ServicePage(title=title, slug=slug or f"s-{timezone.now().timestamp():.6f}"
                           .replace(".", "-"), summary=fields.pop("summary", title),
                           who_can_apply="<p>Все</p>", legal_basis="<p>Закон</p>",
                           processing_days=5, **fields)
        page.channels = [ServiceChannel(kind="office", details="В офисе")]
        index.add_child(instance=page)
        if publish:
            page.save_revision().publish()
        else:
            page.live = False
            page.save_revision()
            ServicePage.objects.filter(pk=page.pk).update(live=False)
    connection.set_schema_to_public()
    return page


def walk(path, host=NORTH):
    """Every item of a list, following `next`."""
    items, url = [], path
    while url:
        response = get(url, host)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        items += body["results"]
        url = body["next"]
    return items


# --- What is served ---------------------------------------------------------------------------

def test_the_catalogue_shows_structured_services_with_register_codes(tenant_a):
    with tenant_context(tenant_a):
        OnlineServiceFactory()  # building-permit takes applications with the site's own form
        total = ServicePage.objects.live().count()
    connection.set_schema_to_public()
    services = {s["slug"]: s for s in walk("/api/v1/services?page_size=100")}
    assert len(services) == total
    permit, kindergarten = services["building-permit"], services["kindergarten-place"]
    assert permit["online"] is True and permit["accepting_applications"] is True
    assert permit["apply_url"] == "http://north.localhost/ru/apply/building-permit/"
    assert kindergarten["online"] is False and kindergarten["apply_url"] is None
    assert kindergarten["accepting_applications"] is None
    assert kindergarten["category"] == "education"
    assert kindergarten["life_events"] == ["birth", "school"]
    assert kindergarten["locale"] == "ru"
    assert kindergarten["url"] == "http://north.localhost/ru/services/kindergarten-place/"
    assert kindergarten["cost"] == {"kind": "free", "amount": None, "currency": "RUB",
                                    "details": ""}
    assert kindergarten["processing"]["working_days"] == 7
    assert {c["kind"] for c in kindergarten["channels"]} == {"online", "office", "phone"}
    assert kindergarten["documents"] and kindergarten["documents"][0]["name"]
    assert kindergarten["who_can_apply"].startswith("<")
    one = get(f"/api/v1/services/{kindergarten['id']}")
    assert one.status_code == 200 and one.json() == kindergarten


def test_offices_have_hours_exceptions_and_their_live_services(tenant_a):
    offices = walk("/api/v1/offices")
    assert offices
    office = offices[0]
    assert [h["weekday"] for h in office["hours"]] == [0, 1, 2, 3, 4]
    assert office["hours"][0]["opens"] == "09:00"
    assert office["exceptions"][0]["closed"] is True and office["exceptions"][0]["note"]
    assert isinstance(office["latitude"], float)
    services = {s["id"] for s in walk("/api/v1/services")}
    assert office["services"] and set(office["services"]) <= services
    assert get(f"/api/v1/offices/{office['id']}").json() == office


def test_news_come_newest_first(tenant_a):
    news = walk("/api/v1/news?page_size=1")
    dates = [n["date"] for n in news]
    assert len(news) >= 2 and dates == sorted(dates, reverse=True)
    assert news[0]["body"].startswith("<p>")


def test_a_key_with_the_catalogue_scope_also_reads_and_a_wrong_key_is_refused(tenant_a):
    with tenant_context(tenant_a):
        client = ApiClient.objects.create(name="Портал области", scopes=[Scope.READ_CATALOGUE])
        _, plaintext = client.issue_key()
    connection.set_schema_to_public()
    keyed = get("/api/v1/services", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert keyed.status_code == 200 and keyed["Cache-Control"].startswith("private")
    assert keyed.json()["results"] == get("/api/v1/services").json()["results"]
    assert_problem(get("/api/v1/services", HTTP_AUTHORIZATION="Bearer dgbox_nope"), 401)
    assert_problem(get("/api/v1/services", SOUTH, HTTP_AUTHORIZATION=f"Bearer {plaintext}"),
                   401)


# --- Isolation, drafts, private pages ---------------------------------------------------------

def test_a_tenants_pages_are_never_served_on_another_tenants_host(tenant_a, tenant_b):
    north_only = add_service(tenant_a, "Только на севере: охота на лося")
    assert "Только на севере: охота на лося" in titles(get("/api/v1/services?page_size=100"))
    south = walk("/api/v1/services", SOUTH)
    assert "Только на севере: охота на лося" not in {s["title"] for s in south}
    assert all(s["url"].startswith("http://south.localhost/") for s in south)
    same_id = get(f"/api/v1/services/{north_only.pk}", SOUTH)
    if same_id.status_code == 200:  # the south's own page with that id, never the north's
        assert same_id.json()["title"] != north_only.title
    else:
        assert_problem(same_id, 404)
    assert not {o["title"] for o in walk("/api/v1/offices", SOUTH)} & {
        o["title"] for o in walk("/api/v1/offices")} - {o["title"] for o in walk(
            "/api/v1/offices", SOUTH)}
    found = get("/api/v1/services?q=лося", SOUTH)
    assert found.status_code == 200 and found.json()["results"] == []


def test_drafts_unpublished_and_private_pages_are_never_served(tenant_a):
    draft = add_service(tenant_a, "Черновик службы", publish=False)
    gone = add_service(tenant_a, "Снятая с публикации служба")
    private = add_service(tenant_a, "Служба для своих")
    with tenant_context(tenant_a):
        ServicePage.objects.get(pk=gone.pk).unpublish()
        PageViewRestriction.objects.create(page=ServicePage.objects.get(pk=private.pk),
                                           restriction_type="password", password="секрет")
        news = NewsPage.objects.live().first()
        PageViewRestriction.objects.create(page=news, restriction_type="login")
        office = OfficePage.objects.live().first()
        office.unpublish()
    connection.set_schema_to_public()
    listed = {s["id"] for s in walk("/api/v1/services?page_size=100")}
    for page in (draft, gone, private):
        assert page.pk not in listed
        assert_problem(get(f"/api/v1/services/{page.pk}"), 404)
    assert news.pk not in {n["id"] for n in walk("/api/v1/news")}
    assert_problem(get(f"/api/v1/news/{news.pk}"), 404)
    assert office.pk not in {o["id"] for o in walk("/api/v1/offices")}
    assert_problem(get(f"/api/v1/offices/{office.pk}"), 404)
    assert "Служба для своих" not in titles(get("/api/v1/services?q=своих"))


# --- Filters --------------------------------------------------------------------------------

def test_filters(tenant_a):
    add_service(tenant_a, "Выдача разрешения на рубку леса", summary="Лесные участки",
                category="", life_events=[], apply_url="https://les.example/apply")
    everything = walk("/api/v1/services?page_size=100")
    by_title = titles(get("/api/v1/services?q=разрешений&page_size=100"))  # another word form
    assert "Выдача разрешения на рубку леса" in by_title
    assert len(by_title) < len(everything)
    birth = walk("/api/v1/services?life_event=birth")
    assert birth and all("birth" in s["life_events"] for s in birth)
    education = walk("/api/v1/services?category=education")
    assert education and all(s["category"] == "education" for s in education)
    online = walk("/api/v1/services?online=true")
    assert {s["title"] for s in online} == {"Выдача разрешения на рубку леса"}
    offline = walk("/api/v1/services?online=false")
    assert len(online) + len(offline) == len(everything)
    assert len(walk("/api/v1/services?locale=ru")) == len(everything)
    assert walk("/api/v1/services?locale=en") == []
    assert walk("/api/v1/services?updated_since=2999-01-01T00:00:00Z") == []
    since = (timezone.now() - datetime.timedelta(minutes=5)).isoformat()
    recent = walk("/api/v1/services?" + f"updated_since={since}".replace("+", "%2B"))
    assert "Выдача разрешения на рубку леса" in {s["title"] for s in recent}
    assert len(walk("/api/v1/news?q=детский")) >= 1
    assert walk("/api/v1/offices?q=Садовая") or walk("/api/v1/offices?q=МФЦ")


def test_english_pages_are_served_with_locale_en(tenant_a):
    with tenant_context(tenant_a):
        english = Locale.objects.get_or_create(language_code="en")[0]
        page = ServicePage.objects.get(slug="kindergarten-place", locale__language_code="ru")
        translation = page.copy_for_translation(english, copy_parents=True)
        translation.title = "Apply for a kindergarten place"
        translation.save_revision().publish()
    connection.set_schema_to_public()
    en = walk("/api/v1/services?locale=en")
    assert [s["title"] for s in en] == ["Apply for a kindergarten place"]
    assert en[0]["locale"] == "en" and "/en/" in en[0]["url"]
    both = {s["locale"] for s in walk("/api/v1/services?page_size=100")}
    assert both == {"ru", "en"}


@pytest.mark.parametrize(("query", "field"), [
    ("life_event=рождение", "life_event"), ("life_event=" + "x" * 65, "life_event"),
    ("category=нет-такой", "category"), ("online=может быть", "online"),
    ("locale=de", "locale"), ("locale=русский", "locale"),
    ("updated_since=вчера", "updated_since"), ("updated_since=2026-13-45", "updated_since"),
    ("q=" + "ж" * 201, "q"),
])
def test_a_wrong_filter_is_a_400_problem_naming_it(tenant_a, query, field):
    body = assert_problem(get(f"/api/v1/services?{query}"), 400)
    assert field in body["errors"], body


@pytest.mark.parametrize("path", [
    "/api/v1/services?q=%00", "/api/v1/services?life_event=birth%00",
    "/api/v1/news?q=a%00b", "/api/v1/offices?locale=%00",
])
def test_nul_in_a_filter_is_a_400_problem(tenant_a, path):
    assert_problem(get(path), 400)


@pytest.mark.parametrize("q", ["паспорт & | ! :*", "'\"<script>", "ё" * 200, "\u202e\u0301",
                               "и", "((", "-", "𝔘"])
def test_odd_search_text_never_fails(tenant_a, q):
    response = get("/api/v1/services", data={"q": q})
    assert response.status_code == 200, response.content[:300]


# --- Pagination -------------------------------------------------------------------------------

def test_the_cursor_walks_every_service_once(tenant_a):
    everything = ids(get("/api/v1/services?page_size=100"))
    first = get("/api/v1/services?page_size=3").json()
    assert len(first["results"]) == 3 and first["previous"] is None
    assert first["next"].startswith("http://north.localhost/api/v1/services?")
    walked = [s["id"] for s in walk("/api/v1/services?page_size=3")]
    assert walked == everything == sorted(everything)
    back = get(get(first["next"]).json()["previous"]).json()
    assert ids_of(back) == ids_of(first)


def ids_of(body):
    return [item["id"] for item in body["results"]]


@pytest.mark.parametrize("cursor", [
    "garbage", "%00", "ж", base64.b64encode(b"p=abc").decode(),
    base64.b64encode("p=ж".encode()).decode(), base64.b64encode(b"o=-5").decode(),
])
def test_a_forged_cursor_is_a_400_problem(tenant_a, cursor):
    response = get("/api/v1/services", data={"cursor": cursor})
    assert_problem(response, 400)
    news = get("/api/v1/news", data={"cursor": base64.b64encode(b"p=not-a-date").decode()})
    assert_problem(news, 400)


# --- Caching -----------------------------------------------------------------------------------

def test_etag_and_304(tenant_a):
    first = get("/api/v1/services")
    etag = first["ETag"]
    assert etag and first["Cache-Control"] == "public, max-age=60"
    again = get("/api/v1/services", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    assert get("/api/v1/services", HTTP_IF_NONE_MATCH='"other"').status_code == 200
    one = get(f"/api/v1/services/{ids(first)[0]}")
    assert get(f"/api/v1/services/{ids(first)[0]}",
               HTTP_IF_NONE_MATCH=one["ETag"]).status_code == 304
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(pk=ids(first)[0])
        page.summary = "Новое описание"
        page.save_revision().publish()
    connection.set_schema_to_public()
    changed = get("/api/v1/services", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert_problem(get("/api/v1/services?locale=xx"), 400)
    assert get("/api/v1/services?locale=xx")["Cache-Control"] == "no-store"


# --- Errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "status", "extra"), [
    ("get", "/api/v1/nothing-here", 404, {}),
    ("get", "/api/v1/services/", 404, {}),
    ("post", "/api/v1/deeper/and/deeper", 404, {}),
    ("delete", "/api/v1/", 404, {}),
    ("get", "/api/v1/services/999999999999", 404, {}),
    ("get", "/api/v1/services/" + "9" * 30, 404, {}),
    ("get", "/api/v1/news/0", 404, {}),
    ("get", "/api/v1/сервисы", 404, {}),
    ("post", "/api/v1/services", 405, {}),
    ("put", "/api/v1/news/1", 405, {}),
    ("delete", "/api/v1/openapi.json", 405, {}),
    ("post", "/api/v1/docs/", 405, {}),
    ("get", "/api/v1/services", 406, {"HTTP_ACCEPT": "application/xml"}),
    ("get", "/api/v1/openapi.yaml", 406, {"HTTP_ACCEPT": "text/html"}),
    ("get", "/api/v1/docs/", 406, {"HTTP_ACCEPT": "application/json"}),
    ("get", "/api/v1/services?format=xml", 404, {}),
])
def test_every_error_is_a_problem(tenant_a, method, path, status, extra):
    response = getattr(Client(**NORTH), method)(path, **extra)
    assert_problem(response, status)


def test_a_parse_error_is_a_problem():
    response = problems.exception_handler(exceptions.ParseError("JSON parse error - Expecting "
                                                                "value"),
                                          {"view": ServiceList()})
    response.accepted_renderer = problems.JSONRenderer()
    response.accepted_media_type = PROBLEM
    response.renderer_context = {}
    response.render()
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert json.loads(response.content)["detail"].startswith("JSON parse error")


def test_over_the_limit_is_a_429_problem_with_retry_after(tenant_a, settings):
    for alias in ("default", "counters"):
        caches[alias].clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"client": "2/3650d"}}
    calls = [get("/api/v1/news", REMOTE_ADDR="198.51.100.77") for _ in range(3)]
    assert [c.status_code for c in calls[:2]] == [200, 200]
    assert_problem(calls[2], 429)
    assert int(calls[2]["Retry-After"]) > 0


# --- Query counts -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/services", "/api/v1/offices", "/api/v1/news"])
def test_a_list_costs_the_same_queries_whatever_its_length(tenant_a, path,
                                                           django_assert_num_queries):
    with tenant_context(tenant_a):
        OnlineServiceFactory()
    connection.set_schema_to_public()
    client = Client(**NORTH)
    assert client.get(f"{path}?page_size=1").status_code == 200  # site lookups cached
    counts = []
    for size in (1, 2, 100):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{path}?page_size={size}")
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.json()["results"]) >= 2
    assert counts[0] == counts[1] == counts[2], counts
    words = {"/api/v1/services": "детский", "/api/v1/offices": "МФЦ", "/api/v1/news": "сад"}
    with django_assert_num_queries(counts[0]):
        found = client.get(f"{path}?page_size=50&q={words[path]}")
    assert found.json()["results"]
    with django_assert_num_queries(counts[0]):
        client.get(f"{path}?page_size=1")


# --- The contract ---------------------------------------------------------------------------

def test_the_openapi_document_is_served_as_json_and_yaml(tenant_a):
    as_json = get("/api/v1/openapi.json")
    assert as_json.status_code == 200 and "json" in as_json["Content-Type"]
    document = as_json.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/", "description": document["servers"][0][
        "description"]}]
    assert document["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert all(path.startswith("/api/v1/") for path in document["paths"])
    assert {"/api/v1/services", "/api/v1/services/{id}", "/api/v1/offices", "/api/v1/news",
            "/api/v1/offices/{id}", "/api/v1/news/{id}"} <= set(document["paths"])
    listing = document["paths"]["/api/v1/services"]["get"]
    assert {"q", "life_event", "category", "online", "locale", "updated_since", "cursor",
            "page_size"} <= {p["name"] for p in listing["parameters"]}
    assert listing["responses"]["429"]["content"][PROBLEM]
    as_yaml = get("/api/v1/openapi.yaml", SOUTH)
    assert as_yaml.status_code == 200 and "openapi" in as_yaml["Content-Type"]
    assert yaml.safe_load(as_yaml.content) == document


def test_the_reference_page_lists_every_operation_without_scripts_from_elsewhere(tenant_a):
    page = get("/api/v1/docs/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    for path in openapi.document()["paths"]:
        assert path in html
    assert "life_event" in html and "PaginatedServiceList" in html
    # Nothing loaded from elsewhere (the descriptions may name https:// addresses as text).
    main = html.split("<main", 1)[1].split("</main>")[0]
    assert "cdn" not in html.lower() and not re.search(r'(src|href)="(https?:)?//', main)
    assert "Content-Security-Policy" in page.headers
    assert '<meta name="viewport"' in html


def test_the_committed_openapi_document_is_up_to_date():
    committed = ROOT / "docs" / "api" / "openapi-v1.yaml"
    current = openapi.as_yaml()
    assert committed.exists() and committed.read_text(encoding="utf-8") == current, (
        "docs/api/openapi-v1.yaml differs from the OpenAPI document the code generates: run "
        "`make openapi` and commit docs/api/openapi-v1.yaml")
