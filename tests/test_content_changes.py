"""PostgreSQL counts each tenant's content changes (tenants/content_changes.py), and the
tenant's cache renews an entry at its renewal without computing it again when the count did
not move (tenants/tenant_cache.py): a committed transaction that wrote to a content table
moves it once, whatever it was (raw SQL included), a rolled-back one or a write elsewhere not
at all; two writers of one tenant do not wait for each other because of it; folding the log
keeps every version. Real PostgreSQL; the changes are committed on connections of their own
(the test's own transaction would count as one), and put back afterwards."""

import time
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from wagtail.models import Page

from cms.models import ServicePage
from tenants import content_changes, tenant_cache

from .factories import NORTH, a_request, launch, own_connection

pytestmark = pytest.mark.django_db
SERVICE = "/ru/services/building-permit/"
VERSION_QUERY = "FROM public.tenants_contentchange"


@contextmanager
def summary_changed(schema, page_pk, text):
    """The service page's summary set to `text` by raw SQL, committed; put back afterwards."""
    with own_connection(autocommit=True) as other:
        table = f'"{schema}".cms_servicepage'
        before = other.execute(f"SELECT summary FROM {table} WHERE page_ptr_id = %s",
                               [page_pk]).fetchone()[0]
        other.execute(f"UPDATE {table} SET summary = %s WHERE page_ptr_id = %s",
                      [text, page_pk])
        try:
            yield
        finally:
            other.execute(f"UPDATE {table} SET summary = %s WHERE page_ptr_id = %s",
                          [before, page_pk])


def at(monkeypatch, now):
    monkeypatch.setattr(tenant_cache, "time", SimpleNamespace(time=lambda: now,
                                                               monotonic=time.monotonic))


def service_pk(tenant):
    with tenant_context(tenant):
        pk = ServicePage.objects.get(slug="building-permit", locale__language_code="ru").pk
    connection.set_schema_to_public()
    return pk


# --- the triggers --------------------------------------------------------------------------
def test_every_table_the_cache_reads_carries_the_trigger_in_every_tenant(tenant_a):
    """In a session tenant and in one launched now (from a spare, as operators launch): the
    tables of every watched model, every page type and their inline rows, and no other."""
    expected = tenant_cache.content_tables()
    assert {"wagtailcore_page", "cms_servicepage", "cms_openinghours", "cms_alertbanner",
            "services_onlineservice", "webhooks_subscription"} <= expected
    assert "wagtailcore_comment" not in expected and "services_case" not in expected
    assert content_changes.triggered_tables(tenant_a.schema_name) == expected
    launched = launch("Новая волость «Ёлки»", slug="yolki").tenant
    assert content_changes.triggered_tables(launched.schema_name) == expected


def test_a_committed_transaction_moves_the_version_once(tenant_a, tenant_b):
    schema = tenant_a.schema_name
    page = f'"{schema}".wagtailcore_page'
    with own_connection() as writer:
        def version(of=schema):  # this test's transaction reads what others committed
            return content_changes.version(of)

        first, other_tenant = version(), version(tenant_b.schema_name)
        writer.execute(f"UPDATE {page} SET title = title WHERE depth = 2")
        writer.execute(f'UPDATE "{schema}".cms_servicepage SET summary = summary')
        assert version() == first  # not committed yet
        writer.commit()
        assert version() == first + 1  # two statements, two tables, one transaction
        writer.execute(f"UPDATE {page} SET title = 'откатится' WHERE depth = 2")
        writer.rollback()
        writer.execute(f'SELECT count(*) FROM "{schema}".cms_servicepage')
        writer.execute(f'UPDATE "{schema}".services_case SET updated_at = updated_at')
        writer.commit()
        assert version() == first + 1  # rolled back, read, or not content
        assert version(tenant_b.schema_name) == other_tenant


def test_two_writers_of_one_tenant_take_no_lock_from_the_count(tenant_a):
    """The log is appended to: a writer of a tenant whose other writer's transaction is open
    does not wait for it (a counter row both updated would make it wait, and turn two
    writers' waits into deadlocks)."""
    schema = tenant_a.schema_name
    table = f'"{schema}".wagtailcore_page'
    with own_connection() as first, own_connection() as second:
        first.execute(f"UPDATE {table} SET title = title WHERE depth = 2")
        second.execute("SET lock_timeout = '2s'")
        second.execute(f"UPDATE {table} SET title = title WHERE depth = 1")
        second.commit()  # did not wait for `first`, still open
        first.commit()


def test_folding_the_log_keeps_every_version(tenant_a, tenant_b):
    schemas = (tenant_a.schema_name, tenant_b.schema_name)
    with own_connection(autocommit=True) as writer:
        for schema in schemas:
            for _ in range(3):
                writer.execute(f'UPDATE "{schema}".cms_footerlink SET url = url')
        with own_connection() as open_writer:  # a change committed after the fold started
            open_writer.execute(f'UPDATE "{schemas[0]}".cms_footerlink SET url = url')
            before = [content_changes.version(schema) for schema in schemas]
            assert content_changes.compact() >= 4
            assert [content_changes.version(schema) for schema in schemas] == before
            open_writer.commit()
        assert content_changes.version(schemas[0]) == before[0] + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM public.tenants_contentchange "
                       "WHERE schema_name = %s", [schemas[1]])
        assert cursor.fetchone()[0] == 1


# --- renewals ------------------------------------------------------------------------------
def test_an_unchanged_page_is_renewed_with_one_query_and_a_changed_one_computed_again(
        tenant_a, monkeypatch):
    """At the tenant's renewal a kept page costs one query on the public schema when nothing
    changed; a change made around dgbox (raw SQL, no signal) shows at the next renewal."""
    client = Client()
    pk = service_pk(tenant_a)
    assert "Изменено запросом" not in client.get(SERVICE, **NORTH).content.decode()
    ends = tenant_cache.ends_for(tenant_a.schema_name, time.time())  # every entry's end
    at(monkeypatch, ends + 1)
    with CaptureQueriesContext(connection) as renewed:
        page = client.get(SERVICE, **NORTH)
    assert page.status_code == 200
    assert [query["sql"] for query in renewed.captured_queries
            if VERSION_QUERY not in query["sql"]] == []
    assert sum(VERSION_QUERY in query["sql"] for query in renewed.captured_queries) == 1
    with summary_changed(tenant_a.schema_name, pk, "Изменено запросом SQL"):
        at(monkeypatch, ends + 2)  # before the next renewal: kept
        assert "Изменено запросом SQL" not in client.get(SERVICE, **NORTH).content.decode()
        at(monkeypatch, ends + tenant_cache.SECONDS + 1)  # the next one: computed again
        with CaptureQueriesContext(connection) as computed:
            assert "Изменено запросом SQL" in client.get(SERVICE, **NORTH).content.decode()
        assert any('"cms_servicepage"' in query["sql"] for query in computed.captured_queries)


def test_an_entry_is_computed_again_a_day_after_whatever_the_version(tenant_a, monkeypatch):
    computed = []

    def title():
        computed.append(1)
        return Page.objects.filter(depth=2).order_by("path").first().title

    with tenant_context(tenant_a):
        now = time.time()
        at(monkeypatch, now)
        with a_request():
            tenant_cache.remember("home-title", title)
        for moment, times in ((now + tenant_cache.SECONDS + 1, 1),
                              (now + 2 * tenant_cache.SECONDS + 1, 1),
                              (now + tenant_cache.LONGEST + tenant_cache.SECONDS, 2)):
            at(monkeypatch, moment)
            with a_request():
                assert tenant_cache.remember("home-title", title)
            assert len(computed) == times, moment - now
    connection.set_schema_to_public()


def test_an_entry_computed_before_a_change_committed_is_never_renewed(tenant_a, monkeypatch):
    """The version is read before the entry is computed: a change that commits in between
    leaves the entry with the older version, so its renewal computes it again."""
    pk = service_pk(tenant_a)
    computed = []

    def summary():
        computed.append(1)
        value = ServicePage.objects.get(pk=pk).summary
        if len(computed) == 1:  # another editor's raw SQL commits right after this read
            with own_connection(autocommit=True) as other:
                other.execute(f'UPDATE "{tenant_a.schema_name}".cms_servicepage '
                              "SET summary = summary WHERE page_ptr_id = %s", [pk])
        return value

    with tenant_context(tenant_a):
        now = time.time()
        at(monkeypatch, now)
        with a_request():
            tenant_cache.remember("summary", summary)
        at(monkeypatch, now + tenant_cache.SECONDS + 1)
        with a_request():
            tenant_cache.remember("summary", summary)
        assert len(computed) == 2
        at(monkeypatch, now + 2 * tenant_cache.SECONDS + 1)
        with a_request():
            tenant_cache.remember("summary", summary)
        assert len(computed) == 2  # the second was computed after the change: renewed
    connection.set_schema_to_public()


def test_renewing_many_tenants_reads_each_version_once_a_request(tenant_a, monkeypatch):
    with tenant_context(tenant_a):
        now = time.time()
        at(monkeypatch, now)
        with a_request():
            for name in ("one", "two", "three"):
                tenant_cache.remember(name, lambda: Page.objects.filter(depth=2).count())
        at(monkeypatch, now + tenant_cache.SECONDS + 1)
        with a_request(), CaptureQueriesContext(connection) as renewed:
            for name in ("one", "two", "three"):
                tenant_cache.remember(name, lambda: pytest.fail("renewed, not computed"))
        assert len(renewed) == 1 and VERSION_QUERY in renewed.captured_queries[0]["sql"]
    connection.set_schema_to_public()
