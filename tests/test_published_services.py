"""The published service at each address, kept in the tenant's cache between requests
(services/forms/published.py on tenants/tenant_cache.py): read from the cache until a page,
a service or a form version of the tenant changes, then from the database again; never
another tenant's. Real PostgreSQL; the cache is the test settings' per-process one, keyed
like Redis by schema. The other entries (workflow version, templates, domain) at the end."""

import time
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context

from cms.models import ServicePage
from services.forms import published
from services.forms.blocks import stream_data_from_spec
from services.models import OnlineService
from services.notifications.models import Message, NotificationTemplate
from tenants import tenant_cache
from tenants.models import Domain

from .factories import NORTH, SOUTH, OnlineServiceFactory, SubmittedCaseFactory, a_request

pytestmark = pytest.mark.django_db
APPLY = "/ru/apply/building-permit/"


def test_a_second_lookup_reads_nothing_from_the_database(tenant_a, django_assert_num_queries):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        with django_assert_num_queries(2):  # the tenant's content version, then the service
            first = published.service_at("building-permit", "ru")
        with django_assert_num_queries(0):
            again = published.service_at("building-permit", "ru")
        assert first.pk == again.pk == service.pk
        assert again.page.title == "Разрешение на строительство" and again.fee == service.fee
        again.accepting = False  # each caller has an instance of its own
        assert published.service_at("building-permit", "ru").accepting


def test_an_address_without_a_service_is_not_kept(tenant_a, django_assert_num_queries):
    with tenant_context(tenant_a):
        OnlineService.objects.exists()  # the schema's search path set before counting
        for slug in ("нет-такой-услуги", "x" * 400, ""):
            for _ in range(2):  # asked again: the database again, no entry for it
                with django_assert_num_queries(2):  # the content version, the service
                    assert published.service_at(slug, "ru") is None


def test_publishing_a_renamed_page_moves_the_service_at_once(client, tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        page = ServicePage.objects.get(pk=service.page_id)
        page.save_revision().publish()  # its history holds the first address (redirected)
    assert client.get(APPLY, **NORTH).status_code == 200  # now in the cache
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(pk=service.page_id)
        page.slug = "razreshenie"
        page.save_revision().publish()
    moved = client.get(APPLY, **NORTH)
    assert moved.status_code == 307 and moved["Location"] == "/ru/apply/razreshenie/"
    assert client.get("/ru/apply/razreshenie/", **NORTH).status_code == 200
    with tenant_context(tenant_a):
        ServicePage.objects.get(pk=service.page_id).unpublish()
    assert client.get("/ru/apply/razreshenie/", **NORTH).status_code == 404


def test_closing_the_form_is_seen_on_the_next_request(client, tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
    assert client.get(APPLY, **NORTH).status_code == 200
    with tenant_context(tenant_a):
        service.accepting = False
        service.save()
    assert client.get(APPLY, **NORTH).status_code == 503
    with tenant_context(tenant_a):
        service.accepting = True
        service.save()
    assert client.get(APPLY, **NORTH).status_code == 200


def test_what_was_read_before_a_change_committed_is_not_kept(
        tenant_a, django_assert_num_queries, django_capture_on_commit_callbacks):
    """A request that read the database while a publish was still in its transaction (here:
    a read after the change, before the commit) kept what it read; the commit makes it a
    miss, so nothing read before the commit outlives it."""
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
    # The transaction ends outside the tenant's schema, as `dgbox` commands' often do.
    with django_capture_on_commit_callbacks(execute=True):
        with tenant_context(tenant_a):
            service.sla_days = 7
            service.save()
            published.service_at("building-permit", "ru")
            with django_assert_num_queries(0):
                published.service_at("building-permit", "ru")
    with tenant_context(tenant_a):
        OnlineService.objects.exists()  # the schema's search path set before counting
        with django_assert_num_queries(2):  # the commit made a new generation
            assert published.service_at("building-permit", "ru").sla_days == 7


def test_a_lost_generation_is_a_miss(tenant_a, django_assert_num_queries):
    with tenant_context(tenant_a):
        OnlineServiceFactory()
        published.service_at("building-permit", "ru")
        cache.delete(tenant_cache.GENERATION)  # evicted, or Redis emptied
        with django_assert_num_queries(2):
            assert published.service_at("building-permit", "ru") is not None
        with django_assert_num_queries(0):
            assert published.service_at("building-permit", "ru") is not None




def test_a_request_reads_the_generation_once_and_sees_its_own_changes_at_once(
        tenant_a, django_assert_num_queries):
    """In a request the generation is read once and entries are held in the process: a change
    another process makes (here: a new generation written straight into the cache, as its
    commit would) is seen from the next request on; a change this process makes, at once."""
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        with a_request():
            first = published.service_at("building-permit", "ru")
            held = published.service_at("building-permit", "ru")
            assert first.pk == held.pk == service.pk and first is not held  # each its own
            cache.set(tenant_cache.GENERATION, "another process's commit")
            with django_assert_num_queries(0):  # this request keeps what it read
                assert published.service_at("building-permit", "ru").pk == service.pk
        with a_request():
            with django_assert_num_queries(2):  # the next request sees the new generation
                published.service_at("building-permit", "ru")  # (and reads the version)
            service.sla_days = 11
            service.save()  # this process's own change, in the same request
            with django_assert_num_queries(1):  # the version is the request's
                assert published.service_at("building-permit", "ru").sla_days == 11
            with django_assert_num_queries(0):
                assert published.service_at("building-permit", "ru").sla_days == 11


def test_an_entry_is_not_trusted_past_its_end_in_any_process(
        tenant_a, django_assert_num_queries, monkeypatch):
    """An entry carries when it ends (the tenant's next renewal), and the copy a process
    holds ends then too (a copy read from the cache late does not live longer): past it, the
    tenant's content version is read again (and the entry computed again if it moved,
    tests/test_content_changes.py), which bounds what a change without signals leaves stale."""
    with tenant_context(tenant_a):
        OnlineServiceFactory()
        OnlineService.objects.exists()  # the schema's search path set before counting
        computed = time.time()
        with a_request():
            published.service_at("building-permit", "ru")
        ends = cache.get(tenant_cache.key(published.entry_name("building-permit", "ru")))[3]
        assert computed < ends <= time.time() + tenant_cache.SECONDS
        assert tenant_cache.ends_for(tenant_a.schema_name, ends - 0.5) == pytest.approx(ends)
        for now, queries in ((ends - 1, 0), (ends - 1, 0), (ends + 1, 1)):
            monkeypatch.setattr(tenant_cache, "time", SimpleNamespace(time=lambda now=now: now))
            with a_request(), django_assert_num_queries(queries):
                assert published.service_at("building-permit", "ru") is not None
        renewed = cache.get(tenant_cache.key(published.entry_name("building-permit", "ru")))
        assert renewed[3] == pytest.approx(ends + tenant_cache.SECONDS)  # the next renewal


def test_a_tenants_entries_end_together_and_tenants_end_apart():
    """One renewal per period for each tenant (all its entries are computed again by one
    request), at a moment of its own: a thousand tenants warmed up together are not all
    computed again together."""
    seconds = tenant_cache.SECONDS
    now = 1_800_000_000.0
    ends = tenant_cache.ends_for("serve-001", now)
    assert now < ends <= now + seconds
    assert all(tenant_cache.ends_for("serve-001", moment) == ends
               for moment in (now + 1, ends - 0.001))
    assert tenant_cache.ends_for("serve-001", ends) == ends + seconds  # the next period
    fleet = [tenant_cache.ends_for(f"serve-{i:03d}", now) - now for i in range(1000)]
    assert all(0 < each <= seconds for each in fleet)
    tenths = [sum(1 for each in fleet if k * seconds / 10 < each <= (k + 1) * seconds / 10)
              for k in range(10)]
    assert max(tenths) < 200  # about 100 in each tenth of the period, none with most


def test_each_tenant_reads_its_own_service_at_the_same_address(client, tenant_a, tenant_b):
    """Both tenants have a building-permit page: each serves its own form, whichever was
    cached first; a tenant without one answers 404 after the other's was cached."""
    with tenant_context(tenant_a):
        OnlineServiceFactory(spec=[{"type": "text", "name": "tree", "label": "Какое дерево"}])
    assert "Какое дерево" in client.get(APPLY, **NORTH).content.decode()
    assert client.get(APPLY, **SOUTH).status_code == 404
    with tenant_context(tenant_b):
        page = ServicePage.objects.get(slug="building-permit", locale__language_code="ru")
        OnlineService.objects.create(page=page, form=stream_data_from_spec(
            [{"type": "text", "name": "fence", "label": "Какой забор"}]))
    south = client.get(APPLY, **SOUTH).content.decode()
    north = client.get(APPLY, **NORTH).content.decode()
    assert "Какой забор" in south and "Какое дерево" not in south
    assert "Какое дерево" in north and "Какой забор" not in north


def test_an_entry_of_another_tenant_under_the_same_schema_is_never_served(tenant_a, tenant_b):
    """A schema name taken again by a later tenant: its entries carry the first tenant's id,
    and are not served."""
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        published.service_at("building-permit", "ru")
        generation = cache.get(tenant_cache.GENERATION)
        cache.set(tenant_cache.key(published.entry_name("building-permit", "ru")),
                  (generation, tenant_b.pk, "another tenant's service",
                   time.time() + tenant_cache.SECONDS, 0, time.time()), tenant_cache.SECONDS)
        assert published.service_at("building-permit", "ru").pk == service.pk
    connection.set_schema_to_public()


# --- the other entries: receipt templates, the tracking link's domain ----------------------
def test_a_template_saved_or_deleted_is_used_by_the_next_receipt(tenant_a):
    with tenant_context(tenant_a):
        first = SubmittedCaseFactory(language="ru")  # the default text, now in the cache
        assert receipt(first).subject == f"Заявление {first.reference} получено"
        template = NotificationTemplate.objects.create(
            key="application_received", channel="email", language="ru",
            subject="Ваше заявление {reference}", body="Номер: {reference}.")
        second = SubmittedCaseFactory(language="ru")
        assert receipt(second).subject == f"Ваше заявление {second.reference}"
        template.delete()
        third = SubmittedCaseFactory(language="ru")
        assert receipt(third).subject == f"Заявление {third.reference} получено"


def test_a_new_primary_domain_is_in_the_next_tracking_link(tenant_a):
    with tenant_context(tenant_a):
        first = SubmittedCaseFactory(language="ru")
        assert "/ru/track/" in receipt(first).body  # its domain now in the cache
        assert "severnaya.gov.example" not in receipt(first).body
    Domain.objects.create(tenant=tenant_a, domain="severnaya.gov.example", is_primary=True)
    with tenant_context(tenant_a):
        second = SubmittedCaseFactory(language="ru")
        assert "://severnaya.gov.example" in receipt(second).body


def receipt(case):
    return Message.objects.get(topic=case.reference, channel="email")


def test_the_release_is_a_digest_of_the_code_and_templates(settings, tmp_path):
    """Entries carry the release in their key: another release's code reads other entries."""
    for source in tenant_cache.RELEASE_SOURCES:
        (tmp_path / source / "templates").mkdir(parents=True)
        (tmp_path / source / "models.py").write_text("x = 1\n")
    page = tmp_path / "cms" / "templates" / "page.html"
    page.write_text("<h1>{{ page.title }}</h1>")
    (tmp_path / "cms" / "notes.txt").write_text("not code")
    settings.BASE_DIR = tmp_path

    def release():
        tenant_cache.release.cache_clear()
        return tenant_cache.release()

    try:
        first = release()
        assert release() == first  # the same files: the same release, in any process
        (tmp_path / "cms" / "notes.txt").write_text("still not code")
        assert release() == first
        page.write_text("<h1 class='new'>{{ page.title }}</h1>")
        assert release() != first
    finally:
        tenant_cache.release.cache_clear()
    assert tenant_cache.release() in tenant_cache.key("anything")


def test_processes_of_two_releases_keep_their_own_entries_and_share_changes(
        tenant_a, django_assert_num_queries, monkeypatch):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        OnlineService.objects.exists()  # the schema's search path set before counting
        for name, queries in (("old", 2), ("old", 0), ("new", 2), ("new", 0), ("old", 0)):
            monkeypatch.setattr(tenant_cache, "release", lambda name=name: name)
            with django_assert_num_queries(queries):
                assert published.service_at("building-permit", "ru").pk == service.pk
        service.sla_days = 9  # saved by a process of the new release
        service.save()
        monkeypatch.setattr(tenant_cache, "release", lambda: "old")
        assert published.service_at("building-permit", "ru").sla_days == 9
