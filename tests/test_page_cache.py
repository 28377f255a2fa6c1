"""Published pages from the tenant's cache (cms/page_cache.py): a warm page runs no SQL at
all, and what readers see is still what editors published, on the next request: a change,
an unpublished or moved page, a view restriction, a closed online form, the day's office
closures; never a preview, never another tenant's page, never one request's CSRF token.
Real PostgreSQL and the demo content; the cache is the test settings' per-process one, keyed
like Redis by schema (a real Redis where it is stopped)."""

import datetime
import io
import re
from html import escape
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.middleware.csrf import get_token
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext, override_settings
from django_tenants.utils import tenant_context
from wagtail.models import Page, PageViewRestriction

from cms import page_cache
from cms.models import OfficePage, OpeningException, ServiceIndexPage, ServicePage
from cms.models import pages as page_models
from dgbox.settings.base import cache_settings
from tenants import registers, tenant_cache

from .factories import NORTH, SOUTH, OnlineServiceFactory
from .faults.servers import free_port

pytestmark = pytest.mark.django_db
SERVICE = "/ru/services/building-permit/"
#: Every page type of the demo site a reader meets, by its path (the office and news pages
#: are found in the tenant's tree).
PAGES = ("/ru/", "/ru/services/", SERVICE, "/ru/offices/", "/ru/news/", "/ru/having-a-baby/")
# What each response carries of its own: the CSRF token and the CSP nonce.
OWN = re.compile(r'(name="csrfmiddlewaretoken" value|nonce)="[^"]*"')


def get(client, path=SERVICE, host=NORTH, status=200):
    response = client.get(path, **host)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


def service(tenant):
    with tenant_context(tenant):
        return ServicePage.objects.get(slug="building-permit", locale__language_code="ru")


def publish(tenant, page, **fields):
    with tenant_context(tenant):
        page = type(page).objects.get(pk=page.pk)
        for name, value in fields.items():
            setattr(page, name, value)
        page.save_revision().publish()
    connection.set_schema_to_public()


def tree_paths(tenant):
    """The demo site's paths of every page type, an office and a news item included."""
    with tenant_context(tenant):
        office = OfficePage.objects.filter(locale__language_code="ru").first()
        news = Page.objects.filter(locale__language_code="ru", depth=4,
                                   url_path__startswith="/home/news/").first()
        found = [office.url_path, news.url_path]
    return [*PAGES, *("/ru" + path.removeprefix("/home") for path in found)]


def test_a_warm_page_runs_no_query_and_is_the_same_page(client, tenant_a):
    for path in tree_paths(tenant_a):
        first = get(client, path)
        with CaptureQueriesContext(connection) as warm:
            again = get(client, path)
        assert [query["sql"] for query in warm.captured_queries] == [], path
        assert OWN.sub("", again) == OWN.sub("", first), path
    # ... and the cold page still reads the tree: forgotten, the next request reads it all.
    tenant_cache.forget_all()
    with CaptureQueriesContext(connection) as cold:
        page = get(client)
    cold_sql = " ".join(query["sql"] for query in cold.captured_queries)
    for table in ("wagtailcore_page", "cms_servicepage", "wagtailcore_pageviewrestriction",
                  "cms_servicechannel", "services_onlineservice"):
        assert f'"{table}"' in cold_sql, table
    assert "Разрешение на строительство" in page


def test_a_head_request_is_answered_from_the_cache_too(client, tenant_a):
    get(client)
    with CaptureQueriesContext(connection) as warm:
        response = client.head(SERVICE, **NORTH)
    assert response.status_code == 200 and not response.content
    assert len(warm) == 0


def test_an_editors_change_is_shown_on_the_next_request(client, tenant_a):
    page = service(tenant_a)
    get(client)
    get(client)  # from the cache
    summary = 'Новое описание «услуги» & <проверка> "кавычки"'
    publish(tenant_a, page, title="Разрешение на строительство (новое)", summary=summary)
    shown = get(client)
    assert escape(summary) in shown and "Разрешение на строительство (новое)" in shown
    # Unpublished: gone at once; moved to another address: found there, not at the old one.
    with tenant_context(tenant_a):
        ServicePage.objects.get(pk=page.pk).unpublish()
    get(client, status=404)
    with tenant_context(tenant_a):
        ServicePage.objects.get(pk=page.pk).save_revision().publish()
    assert escape(summary) in get(client)
    publish(tenant_a, page, slug="разрешение-на-стройку")
    get(client, status=404)
    assert escape(summary) in get(client, "/ru/services/разрешение-на-стройку/")


def test_a_draft_is_not_shown_and_a_preview_is_never_kept(client, tenant_a):
    page = service(tenant_a)
    get(client)
    with tenant_context(tenant_a):
        draft = ServicePage.objects.get(pk=page.pk)
        draft.summary = "Черновик, который видит только редактор"
        draft.save_revision()
        request = RequestFactory().get(SERVICE, **NORTH)
        preview = draft.make_preview_request(request).content.decode()
    connection.set_schema_to_public()
    assert "Черновик, который видит только редактор" in preview
    for _ in range(2):
        assert "Черновик" not in get(client)
    # The live page's content was kept before the preview: the preview did not show it.
    with tenant_context(tenant_a):
        live = ServicePage.objects.get(pk=page.pk)
        live.title = "Заголовок черновика"
        again = live.make_preview_request(RequestFactory().get(SERVICE, **NORTH))
    assert "Заголовок черновика" in again.content.decode()


def test_a_view_restriction_applies_from_the_next_request(client, tenant_a):
    page = service(tenant_a)
    get(client)
    get(client)
    with tenant_context(tenant_a):
        index = ServiceIndexPage.objects.get(locale__language_code="ru")
        restriction = PageViewRestriction.objects.create(
            page=index, restriction_type=PageViewRestriction.PASSWORD, password="секрет-42")
    for _ in range(2):
        refused = get(client)
        assert escape(page.summary) not in refused and 'name="password"' in refused
    # Someone who knows the password reads the page (from the cache); others still cannot.
    reader = Client()
    action = f"/_util/authenticate_with_password/{restriction.pk}/{page.pk}/"
    signed = reader.post("/ru" + action, {"password": "секрет-42", "return_url": SERVICE},
                         **NORTH)
    assert signed.status_code == 302
    for _ in range(2):
        assert escape(page.summary) in get(reader)
    assert escape(page.summary) not in get(client)
    with tenant_context(tenant_a):
        restriction.delete()
    assert escape(page.summary) in get(client)


def test_tenants_never_share_a_page(client, tenant_a, tenant_b):
    """Both demo sites have the same tree and the same row ids."""
    own = {}
    for tenant, letter in ((tenant_a, "Север"), (tenant_b, "Юг")):
        own[letter] = f"Описание региона {letter}"
        publish(tenant, service(tenant), summary=own[letter])
    assert service(tenant_a).pk == service(tenant_b).pk
    for _ in range(3):
        north, south = get(client), get(client, host=SOUTH)
        assert own["Север"] in north and own["Юг"] not in north
        assert own["Юг"] in south and own["Север"] not in south


def test_a_closed_online_form_hides_the_apply_button(client, tenant_a):
    apply_link = 'href="/ru/apply/building-permit/"'
    assert apply_link not in get(client)  # no online form yet
    assert apply_link not in get(client)
    with tenant_context(tenant_a):
        online = OnlineServiceFactory()  # an online form added: the button shows
    assert apply_link in get(client)
    assert apply_link in get(client)
    with tenant_context(tenant_a):
        online.accepting = False
        online.save()
    assert apply_link not in get(client)


def test_a_query_string_is_rendered_every_time(client, tenant_a):
    """The catalogue filtered by a life event, after and before the whole catalogue was
    kept: each shows what was asked for."""
    with tenant_context(tenant_a):
        code = next(code for codes in ServicePage.objects.values_list("life_events", flat=True)
                    for code in codes or [])
        heading = f": {escape(registers.names('life_events', [code], 'ru')[0])}</h1>"
    whole = get(client, "/ru/services/")
    filtered = get(client, f"/ru/services/?life_event={code}")
    assert heading in filtered and heading not in whole
    assert OWN.sub("", get(client, "/ru/services/")) == OWN.sub("", whole)
    assert OWN.sub("", get(client, f"/ru/services/?life_event={code}")) == OWN.sub("", filtered)
    thanks = get(client, f"{SERVICE}?feedback=thanks")
    assert 'role="status"' in thanks and "csrfmiddlewaretoken" not in thanks


def test_an_offices_coming_closures_follow_the_day(client, tenant_a, monkeypatch):
    """An office lists its closures of the next 60 days: kept content is the day's."""
    path = next(p for p in tree_paths(tenant_a) if p.startswith("/ru/offices/") and
                p != "/ru/offices/")
    with tenant_context(tenant_a):
        office = OfficePage.objects.get(url_path="/home" + path.removeprefix("/ru"))
        office.exceptions.add(OpeningException(
            date=datetime.date.today() + datetime.timedelta(days=61), closed=True,
            note="Санитарный день"))
        office.save_revision().publish()
    connection.set_schema_to_public()
    assert "Санитарный день" not in get(client, path)
    assert "Санитарный день" not in get(client, path)  # kept for today

    class TwoDaysLater(datetime.date):
        @classmethod
        def today(cls):
            return datetime.date.today() + datetime.timedelta(days=2)

    later = SimpleNamespace(date=TwoDaysLater, timedelta=datetime.timedelta)
    monkeypatch.setattr(page_models, "datetime", later)
    monkeypatch.setattr(page_cache, "datetime", later)
    assert "Санитарный день" in get(client, path)


def test_only_content_that_depends_on_the_day_is_rendered_again_the_next_day(
        client, tenant_a, monkeypatch):
    """At midnight a process serving many tenants renders again only their offices (whose
    closures follow the day), not every page of every tenant."""
    paths = tree_paths(tenant_a)
    office = next(p for p in paths if p.startswith("/ru/offices/") and p != "/ru/offices/")
    for path in paths:
        get(client, path)

    class NextDay(datetime.date):
        @classmethod
        def today(cls):
            return datetime.date.today() + datetime.timedelta(days=1)

    monkeypatch.setattr(page_cache, "datetime", SimpleNamespace(date=NextDay))
    for path in paths:
        with CaptureQueriesContext(connection) as next_day:
            get(client, path)
        if path == office:
            assert any("cms_openingexception" in query["sql"]
                       for query in next_day.captured_queries)
        else:
            assert next_day.captured_queries == [], path


def test_a_fragment_holding_a_requests_own_token_is_never_kept(tenant_a):
    template = Template('{% load dgbox_tags %}{% page_fragment "form" %}{% csrf_token %}'
                        '{{ page.title }}{% endpage_fragment %}')
    tokens = []
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(slug="building-permit", locale__language_code="ru")
        for _ in range(2):
            request = RequestFactory().get(SERVICE, **NORTH)
            request._dgbox_cached_page = page  # as `serve` marks the page it serves
            assert page_cache.fragment_key(request, page, "form")  # a fragment it would keep
            html = template.render(Context({"request": request, "page": page,
                                            "csrf_token": get_token(request)}))
            assert escape(page.title) in html
            tokens.append(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)[1])
    assert tokens[0] != tokens[1]


def test_with_redis_down_pages_are_served_and_edits_are_seen(client, tenant_a, redis_counters):
    page = service(tenant_a)
    get(client)
    get(client)
    redis_counters.stop()
    publish(tenant_a, page, summary="Опубликовано без Redis")
    for _ in range(2):
        assert "Опубликовано без Redis" in get(client)


def test_a_change_made_around_dgbox_shows_after_a_refresh(client, tenant_a, tenant_b):
    """SQL by hand sends no signal: the kept page stays until the tenant's renewal, or until
    an operator runs `dgbox tenant refresh`; other tenants' kept pages stay kept."""
    page = service(tenant_a)
    for host in (NORTH, SOUTH):
        get(client, host=host)
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("UPDATE cms_servicepage SET summary = %s WHERE page_ptr_id = %s",
                       ["Изменено запросом SQL", page.pk])
    connection.set_schema_to_public()
    assert "Изменено запросом SQL" not in get(client)  # kept: no signal was sent
    out = io.StringIO()
    call_command("tenant", "refresh", "north", stdout=out)
    assert "1" in out.getvalue()
    assert "Изменено запросом SQL" in get(client)
    with CaptureQueriesContext(connection) as south:
        get(client, host=SOUTH)
    assert len(south) == 0  # still kept
    call_command("tenant", "refresh", "--all", stdout=io.StringIO())
    with CaptureQueriesContext(connection) as south:
        get(client, host=SOUTH)
    assert len(south) > 0


def test_with_debug_on_the_content_is_rendered_every_time(client, tenant_a, settings):
    """`make demo` runs with DEBUG: a template edited while it serves shows at once."""
    settings.DEBUG = True
    get(client)
    with CaptureQueriesContext(connection) as again:
        get(client)
    assert any('"cms_servicechannel"' in query["sql"] for query in again.captured_queries)


def test_a_change_saved_while_redis_was_unreachable_is_seen_once_it_is_back(
        client, tenant_a, redis_counters, monkeypatch):
    """Redis unreachable when an editor publishes: the new generation is not taken, and once
    Redis answers again it still holds the page from before; the process that saved the
    change writes the generation again at its next request, so the page is read again."""
    page = service(tenant_a)
    get(client)
    get(client)  # kept, in Redis and in the process
    monkeypatch.setattr(tenant_cache, "RETRY_SECONDS", 0)
    unreachable = cache_settings(f"redis://127.0.0.1:{free_port()}/0", 0.5)
    with override_settings(CACHES=unreachable):
        publish(tenant_a, page, summary="Опубликовано, пока Redis был недоступен")
        assert "Опубликовано, пока Redis" in get(client)  # the database answers
    for _ in range(2):  # Redis again, with what it kept before the change
        assert "Опубликовано, пока Redis" in get(client)
