"""The national catalogue (issue 16): the index in the public schema follows what tenants
publish (publish, unpublish, delete, move, private) and their lifecycle (suspend, resume,
archive, delete); the rebuild is idempotent; search stems Russian and English, filters by life
event, territory (a region with its municipalities) and online; the base domain's API answers
problem JSON to bad parameters and its OpenAPI document matches the committed copy; the
portal page works as a plain form."""

import datetime
import json
import re
from io import StringIO
from pathlib import Path

import pytest
import schemathesis
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from wagtail.models import PageViewRestriction

from cms.models import ServiceIndexPage, ServicePage
from tenants import catalogue, lifecycle
from tenants.catalogue import query as catalogue_query
from tenants.models import CatalogueEntry

from .factories import OnlineServiceFactory

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
API = "/api/v1/catalogue/services"
ROOT = Path(__file__).resolve().parent.parent


def new_service(title, *, slug, summary="Коротко о услуге.", live=True, life_events=()):
    """A service page under the current tenant's Russian catalogue (not published yet)."""
    index = ServiceIndexPage.objects.get(locale__language_code="ru")
    page = ServicePage(title=title, slug=slug, summary=summary, who_can_apply="<p>Все</p>",
                       legal_basis="<p>Закон</p>", processing_days=3,
                       life_events=list(life_events), live=live)
    index.add_child(instance=page)
    return page


def publish(page, capture):
    with capture(execute=True):
        page.save_revision().publish()


def entries(tenant):
    return CatalogueEntry.objects.filter(tenant=tenant)


def entry(tenant, title, **fields):
    """An entry written as cms writes one (for the search tests)."""
    catalogue.publish_entry(tenant, catalogue.Entry(
        page_id=fields.pop("page_id", abs(hash(title)) % 10**8), language=fields.pop("language",
                                                                                     "ru"),
        title=title, url=f"http://{tenant.slug}.localhost/ru/services/x/",
        updated_at=timezone.now(), **fields))


def api(client, **params):
    return client.get(API, params, **PORTAL)


def titles(response):
    assert response.status_code == 200, response.content
    return [r["title"] for r in response.json()["results"]]


# --- The index follows the tenant's pages ---------------------------------------------------


def test_publish_indexes_unpublish_and_delete_withdraw(
        tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        page = new_service("Выдача охотничьего билета", slug="hunting-licence",
                           life_events=["vehicle"])
        publish(page, django_capture_on_commit_callbacks)
    row = entries(tenant_a).get(page_id=page.pk)
    assert row.title == "Выдача охотничьего билета" and row.language == "ru"
    assert row.url == "http://north.localhost/ru/services/hunting-licence/"
    assert row.region_id == tenant_a.pk and row.visible and not row.online
    assert row.life_events == ["vehicle"]
    assert "Автомобиль и дороги" in row.keywords  # the life event's names are searchable

    with tenant_context(tenant_a):
        with django_capture_on_commit_callbacks(execute=True):
            page.unpublish()
    assert not entries(tenant_a).filter(page_id=page.pk).exists()

    with tenant_context(tenant_a):
        page.refresh_from_db()
        publish(page, django_capture_on_commit_callbacks)
        assert entries(tenant_a).filter(page_id=page.pk).exists()
        with django_capture_on_commit_callbacks(execute=True):
            page.delete()
    assert not entries(tenant_a).filter(page_id=page.pk).exists()


def test_drafts_and_private_pages_are_never_listed(
        tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        draft = new_service("Черновик услуги", slug="draft-service", live=False)
        with django_capture_on_commit_callbacks(execute=True):
            draft.save_revision()  # a draft is saved, not published
        page = new_service("Служебная услуга", slug="staff-only")
        publish(page, django_capture_on_commit_callbacks)
        assert entries(tenant_a).filter(page_id=page.pk).exists()
        with django_capture_on_commit_callbacks(execute=True):
            PageViewRestriction.objects.create(page=page, restriction_type="password",
                                               password="secret-word")
        assert not entries(tenant_a).filter(page_id=page.pk).exists()  # withdrawn at once
        catalogue.rebuild(tenant_a)
        listed = set(entries(tenant_a).values_list("page_id", flat=True))
    assert listed and draft.pk not in listed and page.pk not in listed


def test_moving_a_page_updates_its_address(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        page = new_service("Переносимая услуга", slug="moving-service")
        publish(page, django_capture_on_commit_callbacks)
        with django_capture_on_commit_callbacks(execute=True):
            page.slug = "moved-service"
            page.save_revision().publish()
    assert entries(tenant_a).get(page_id=page.pk).url.endswith("/ru/services/moved-service/")


def test_online_means_an_open_online_form_or_another_website(
        tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        OnlineServiceFactory(slug="building-permit")
        page = ServicePage.objects.get(slug="building-permit", locale__language_code="ru")
        other = ServicePage.objects.get(slug="school-enrolment", locale__language_code="ru")
        publish(page, django_capture_on_commit_callbacks)
        publish(other, django_capture_on_commit_callbacks)
    assert entries(tenant_a).get(page_id=page.pk).online
    assert not entries(tenant_a).get(page_id=other.pk).online


def test_lifecycle_hides_restores_and_removes_a_tenants_services(client, tenant_a, tenant_b):
    catalogue.rebuild(tenant_a)
    catalogue.rebuild(tenant_b)
    north = {"territory": "north"}
    assert api(client, **north).json()["count"] == entries(tenant_a).count() > 0

    lifecycle.suspend("north")
    assert api(client, **north).json()["count"] == 0
    assert api(client, territory="south").json()["count"] == entries(tenant_b).count()
    lifecycle.resume("north")
    assert api(client, **north).json()["count"] == entries(tenant_a).count()
    lifecycle.archive("north")
    assert api(client, **north).json()["count"] == 0
    assert entries(tenant_a).exists()  # kept, hidden: an archived tenant keeps every row

    catalogue.rebuild(tenant_a)  # a rebuild keeps an archived tenant's entries hidden
    assert not entries(tenant_a).filter(visible=True).exists()
    catalogue.remove_tenant(tenant_a)  # what lifecycle.delete does before the row goes
    assert not entries(tenant_a).exists() and entries(tenant_b).exists()


def test_rebuild_is_idempotent_and_drops_stale_entries(tenant_a):
    entry(tenant_a, "Несуществующая услуга", page_id=99999999)
    first = catalogue.rebuild(tenant_a)
    with tenant_context(tenant_a):
        live = ServicePage.objects.live().count()
    assert first.entries == live > 0 and first.removed == 1
    rows = list(entries(tenant_a).order_by("page_id").values())
    out = StringIO()
    call_command("catalogue", "rebuild", "--tenant", "north", stdout=out)
    assert "Indexed 1 of 1 tenants" in out.getvalue() and "0 new, 0 removed" in out.getvalue()
    assert list(entries(tenant_a).order_by("page_id").values()) == rows


def test_rebuild_of_an_unknown_tenant_is_a_clear_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No launched tenant atlantis"):
        call_command("catalogue", "rebuild", "--tenant", "atlantis")


# --- Search -------------------------------------------------------------------------------


@pytest.fixture
def indexed(session_tenants):
    a, b, m = session_tenants["a"], session_tenants["b"], session_tenants["m"]
    entry(a, "Получение паспорта гражданина", summary="Паспорт для поездок.",
          life_events=["moving"])
    entry(a, "Building permits", language="en", summary="Permission to build.", online=True,
          life_events=["building"])
    entry(m, "Выдача разрешения на строительство", summary="Для муниципалитета.",
          life_events=["building"], online=True)
    entry(b, "Замена паспорта", summary="Если паспорт испорчен.", life_events=["moving"])
    return a, b, m


def test_russian_and_english_words_in_other_forms(client, indexed):
    assert set(titles(api(client, q="паспорт"))) >= {"Получение паспорта гражданина",
                                                     "Замена паспорта"}
    assert "Получение паспорта гражданина" in titles(api(client, q="паспортов"))
    assert "Building permits" in titles(api(client, q="permit"))
    assert "Building permits" in titles(api(client, q="Permitted building"))
    assert "Выдача разрешения на строительство" in titles(api(client, q="разрешение"))
    # Other tests' published pages may mention a passport too: the title match comes first,
    # and the excluded word is excluded.
    without = titles(api(client, q="паспорт -замена"))
    assert without[0] == "Получение паспорта гражданина" and "Замена паспорта" not in without


def test_title_outranks_summary_and_prefixes_are_a_fallback(client, indexed):
    a, _b, _m = indexed
    entry(a, "Справка", summary="Справка нужна для паспорта.")
    found = titles(api(client, q="паспорт", territory="north"))
    assert found.index("Получение паспорта гражданина") < found.index("Справка")
    assert "Получение паспорта гражданина" in titles(api(client, q="паспо"))


def test_title_then_summary_then_other_text_and_pages_cross_the_tiers(client, indexed):
    """Title and summary matches are ranked (title first); matches in the other text only
    (documents, who can apply) come after them, and paging runs on across the two."""
    a, _b, _m = indexed
    entry(a, "Справка об отсутствии долгов", summary="Нужна для оформления паспорта.")
    entry(a, "Архивная справка", summary="Копии документов.", keywords="Документы: паспорт.")
    expected = ["Получение паспорта гражданина", "Справка об отсутствии долгов",
                "Архивная справка"]
    assert titles(api(client, q="паспорт", territory="north")) == expected
    pages = [api(client, q="паспорт", territory="north", page_size=1, page=n).json()
             for n in (1, 2, 3, 4)]
    assert [r["title"] for p in pages for r in p["results"]] == expected
    assert pages[2]["next"] is None and pages[3]["results"] == []


def test_counts_stop_at_the_cap_and_say_so(client, indexed, monkeypatch):
    monkeypatch.setattr(catalogue_query, "COUNT_CAP", 1)
    first = api(client, q="паспорт", page_size=1).json()
    assert first["count"] == 1 and first["count_exact"] is False
    assert "page=2" in first["next"]  # there is more than the count says
    second = api(client, q="паспорт", page_size=1, page=2).json()
    assert len(second["results"]) == 1 and second["results"] != first["results"]
    exact = api(client, q="permit").json()
    assert exact["count"] == 1 and exact["count_exact"] is True and exact["next"] is None
    # "Паспорт": another address than the other tests' pages (the portal's pages are cached)
    page = client.get("/services/", {"q": "Паспорт"}, **PORTAL).content.decode()
    status = re.findall(r'role="status">([^<]*)<|<title>([^<–]*)', page)
    # The portal speaks the platform's language (Russian here; English where so configured).
    assert status in ([("", "More than 1 services found "), ("More than 1 services found", "")],
                      [("", "Найдено более 1 услуг "), ("Найдено более 1 услуг", "")])


def test_territory_region_includes_its_municipalities(client, indexed):
    north = titles(api(client, q="разрешение строительство", territory="north"))
    assert "Выдача разрешения на строительство" in north  # Рябиновка is in the north
    assert titles(api(client, q="разрешение", territory="south")) == []
    only = titles(api(client, territory="ryabinovka"))
    assert only == ["Выдача разрешения на строительство"]


def test_online_and_life_event_filters_with_facets(client, indexed):
    body = api(client, life_event="building", online="true", facets="true").json()
    assert {r["title"] for r in body["results"]} >= {"Building permits",
                                                      "Выдача разрешения на строительство"}
    assert all(r["online"] and "building" in r["life_events"] for r in body["results"])
    assert body["facets"]["life_event"]["building"] == body["count"]
    assert "Замена паспорта" not in titles(api(client, life_event="moving", online="true"))
    assert body["facets"]["online"] == {"true": body["count"], "false": 0}
    assert api(client, life_event="building").json()["facets"] is None  # only when asked
    result = api(client, q="Building permits").json()["results"][0]
    assert result["tenant"] == {"slug": "north", "name": "Северная область", "kind": "region"}
    assert result["url"].startswith("http://north.localhost/")


def test_pages_and_etag(client, indexed):
    first = api(client, page_size=1, q="паспорт")
    body = first.json()
    assert body["count"] >= 2 and len(body["results"]) == 1 and body["previous"] is None
    assert "page=2" in body["next"]
    assert first["Cache-Control"] == "public, max-age=60"
    again = client.get(API, {"page_size": 1, "q": "паспорт"}, HTTP_IF_NONE_MATCH=first["ETag"],
                       **PORTAL)
    assert again.status_code == 304
    assert api(client, page=400, q="паспорт").json()["results"] == []


@pytest.mark.parametrize("params, field", [
    ({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"page_size": "1000"}, "page_size"),
    ({"online": "maybe"}, "online"), ({"territory": "atlantis"}, "territory"),
    ({"territory": "Севера"}, "territory"), ({"life_event": "flying"}, "life_event"),
    ({"language": "de"}, "language"), ({"q": "ж" * 10240}, "q"),
])
def test_bad_parameters_get_problem_json(client, session_tenants, params, field):
    response = client.get(API, params, **PORTAL)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["title"] and field in body["errors"]


def test_nul_is_refused_as_problem_json_on_the_api_and_the_error_page_on_the_portal(
        client, session_tenants):
    # The platform's MalformedInputMiddleware refuses NUL in any query (PostgreSQL cannot
    # store it) before the view: problem JSON under /api/, the 400 page elsewhere.
    response = client.get(API, {"q": "pass\x00port"}, **PORTAL)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "q" in response.json()["detail"]
    page = client.get("/services/", {"q": "\x00паспорт"}, **PORTAL)
    assert page.status_code == 400 and "govuk-heading-l" in page.content.decode()


@pytest.mark.parametrize("q", ["\"паспорт", "паспорт & | ! :* (", "or or -", "ё", "'; drop",
                               "\u202eпаспорт", "🙂"])
def test_odd_queries_are_searched_not_failed(client, indexed, q):
    assert api(client, q=q).status_code == 200
    assert client.get("/services/", {"q": q}, **PORTAL).status_code == 200


# --- The OpenAPI document -------------------------------------------------------------------


def test_openapi_document_is_served_and_matches_the_committed_copy(client, db):
    response = client.get("/api/v1/openapi.json", **PORTAL)
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/api/v1/catalogue/services"}
    out = StringIO()
    call_command("catalogue", "openapi", stdout=out)
    committed = (ROOT / "docs/api/openapi-national-v1.yaml").read_text(encoding="utf-8")
    assert out.getvalue() == committed, (
        "docs/api/openapi-national-v1.yaml is out of date: run `dgbox catalogue openapi "
        "--output docs/api/openapi-national-v1.yaml`")


def test_the_api_is_not_on_tenant_hosts(client, tenant_a):
    response = client.get(API, HTTP_HOST="north.localhost", follow=True)
    assert response.status_code == 404


# --- The portal page --------------------------------------------------------------------------


def test_portal_page_is_a_plain_form_with_labelled_fields(client, indexed):
    home = client.get("/", **PORTAL).content.decode()
    assert 'href="/services/"' in home
    body = client.get("/services/", **PORTAL).content.decode()
    assert re.search(r'<form method="get" action="/services/"', body)
    for field in ("finder-q", "finder-life-event", "finder-territory", "finder-online"):
        assert f'for="{field}"' in body and f'id="{field}"' in body
    assert 'name="viewport" content="width=device-width' in body
    assert "Северная область" in body  # regions to choose from


def test_portal_page_results_link_to_the_tenants_page_and_announce_the_count(client, indexed):
    response = client.get("/services/", {"q": "паспорта", "territory": "north"}, **PORTAL)
    body = response.content.decode()
    assert response.status_code == 200
    # The portal speaks Russian by default (English where a translation is missing).
    found = "(Найдена 1 услуга|1 service found)"
    assert re.search(f'<p class="govuk-body" role="status">{found}</p>', body)
    assert 'href="http://north.localhost/ru/services/x/"' in body
    assert "Северная область" in body and "Получение паспорта гражданина" in body
    assert re.search(f"<title>{found} – ", body)  # the count first, read first by screen readers


def test_portal_page_marks_pages_in_another_language(client, indexed):
    body = client.get("/services/", {"q": "permit"}, **PORTAL).content.decode()
    assert 'lang="en" hreflang="en">Building permits</a>' in body


def test_portal_page_unknown_filter_and_hostile_text(client, indexed):
    response = client.get("/services/", {"territory": "atlantis"}, **PORTAL)
    assert response.status_code == 400 and "govuk-error-summary" in response.content.decode()
    for q in ("ж" * 10240, "паспорт " * 2000, "\u202eпаспорт"):
        assert client.get("/services/", {"q": q}, **PORTAL).status_code == 200
    long = client.get("/services/", {"q": "паспорт " * 2000}, **PORTAL).content.decode()
    assert "Получение паспорта гражданина" in long  # cut to 200 characters, still searched


def test_old_pages_are_dated_as_published(tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        page = new_service("Датированная услуга", slug="dated-service")
        publish(page, django_capture_on_commit_callbacks)
        page.refresh_from_db()
    updated = entries(tenant_a).get(page_id=page.pk).updated_at
    assert abs(updated - page.last_published_at) < datetime.timedelta(seconds=1)


# --- Contract: schemathesis against the live document of the base domain -------------------


@pytest.fixture
def national_app(indexed):
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    # As Django's test client does, requests keep the test's connection (and its
    # transaction) open.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_contract_no_server_error_and_every_answer_as_documented(national_app):
    # The document is loaded from the running application (werkzeug's WSGI client sends
    # Host: localhost, the base domain), so what is tested is what is served. Driven by hand
    # (not @schema.parametrize with a fixture): schemathesis' lazy loading does not work
    # with pytest 9.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", national_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert [op.path for op in operations] == ["/api/v1/catalogue/services"]
    for operation in operations:
        @settings(max_examples=60, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case):
            # positive_data_acceptance is left out: a value the schema allows (any slug) may
            # still name a life event or territory that does not exist, a documented 400.
            # Identity encoding: the WSGI transport does not undo the site's gzip.
            case.call_and_validate(headers={"Accept-Encoding": "identity"},
                                   excluded_checks=[positive_data_acceptance])

        call()
