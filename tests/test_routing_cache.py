"""The routing fast path (tenants/middleware.py, tenants/host_cache.py): hosts looked up one
by one and cached per process until a change notice, no redundant schema switch, content
types kept per schema, every cache bounded. Correctness and query counts only; never speed."""

import os
import random
import subprocess
import sys
import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from dgbox.settings.base import cache_settings
from tenants import host_cache as host_cache_module
from tenants import lifecycle, middleware
from tenants.host_cache import NOTICE_CACHE, NOTICE_KEY, BoundedCache, HostCache, host_cache
from tenants.middleware import content_types
from tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(host_cache, "local_ttl", 5.0)
    monkeypatch.setattr(host_cache, "shared_ttl", 300.0)
    monkeypatch.setattr(host_cache, "clock", clock)
    monkeypatch.setattr(host_cache, "shared", None)
    host_cache.clear()
    yield clock
    host_cache.clear()


def kinds(captured) -> dict[str, int]:
    counts = {"domain": 0, "search_path": 0, "content_type": 0, "other": 0}
    for query in captured.captured_queries:
        sql = query["sql"].lower()
        if sql.startswith("set search_path"):
            counts["search_path"] += 1
        elif '"tenants_domain"' in sql:
            counts["domain"] += 1
        elif '"django_content_type"' in sql:
            counts["content_type"] += 1
        else:
            counts["other"] += 1
    return counts


#: The home page with a query string: its content is rendered on every request, not kept
#: (cms/page_cache.py), so each request runs the page's own queries in the tenant's schema,
#: which is what routing's costs are counted against (a kept page runs none at all).
PAGE = "/ru/?from=routing-test"


def get(client, host, path=PAGE):
    return client.get(path, HTTP_HOST=host)


def test_each_host_is_served_by_its_own_tenant(client, session_tenants):
    lookups = host_cache.lookups
    expected = {"north.localhost": "north", "south.localhost": "south",
                "ryabinovka.localhost": "ryabinovka"}
    for host in ["north.localhost", "south.localhost", "north.localhost",
                 "ryabinovka.localhost", "south.localhost", "ryabinovka.localhost"]:
        response = get(client, host)
        assert response.status_code == 200
        tenant = response.wsgi_request.tenant
        assert tenant.slug == expected[host]
        assert tenant.name in response.content.decode()
        assert connection.schema_name == tenant.schema_name
        # Each request gets its own copy: changing it cannot leak into the next request.
        tenant.name = "changed by a view"
    assert get(client, "north.localhost").wsgi_request.tenant.name == "Северная область"
    assert host_cache.lookups == lookups + 3  # one indexed query per host, then none


def test_a_host_lookup_reads_the_row_as_the_orm_does(session_tenants):
    """The lookup's own SQL (tenants/middleware.py) gives what the ORM's query gives, with
    the ORM's conversions (feature flags from JSON, times with their zone, a parent)."""
    north = Tenant.objects.get(slug="north")
    Tenant.objects.filter(pk=north.pk).update(
        flags={"new_inbox": True, "имя": "значение"}, population=1_234_567)
    fields = [field.attname for field in Tenant._meta.concrete_fields]
    for host in ("north.localhost", "ryabinovka.localhost"):  # a region; a municipality
        expected = Domain.objects.filter(domain=host).values_list(
            *(f"tenant__{name}" for name in fields)).get()
        row = middleware._look_up_host(host)
        assert row == expected
        assert [type(value) for value in row] == [type(value) for value in expected]
    assert dict(zip(fields, middleware._look_up_host("north.localhost"), strict=True))[
        "flags"] == {"new_inbox": True, "имя": "значение"}
    assert middleware._look_up_host("нет-такого.localhost") is None
    assert middleware._look_up_host("north.localhost'; --") is None


def test_warm_requests_skip_the_lookup_the_switch_and_content_type_queries(client,
                                                                           session_tenants):
    get(client, "north.localhost")  # fills the page's own caches (Wagtail's site root paths)
    host_cache.clear()
    content_types.forget()
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as cold:
        assert get(client, "north.localhost").status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert get(client, "north.localhost").status_code == 200
    cold_kinds, warm_kinds = kinds(cold), kinds(warm)
    # Cold: the host's lookup, SET search_path to public and to the tenant, content types.
    assert cold_kinds["domain"] == 1 and cold_kinds["search_path"] == 2
    assert cold_kinds["content_type"] >= 1
    # Warm, same tenant on the same connection: none of them, the page's own queries only.
    assert warm_kinds == {**cold_kinds, "domain": 0, "search_path": 0, "content_type": 0}
    assert len(warm) < len(cold)

    # Switching tenants costs one SET search_path; each schema keeps its content types.
    get(client, "south.localhost")
    with CaptureQueriesContext(connection) as switch:
        assert get(client, "north.localhost").status_code == 200
    assert kinds(switch) == {**warm_kinds, "search_path": 1}


def test_the_300th_distinct_host_costs_the_queries_of_the_first(client, session_tenants):
    """Nothing is loaded or kept per fleet: 300 hosts (aliases of the three tenants), each
    visited once to warm up, then once more: the 300th costs the queries of the first."""
    tenants = list(Tenant.objects.filter(slug__in=["north", "south", "ryabinovka"]))
    Domain.objects.bulk_create([
        Domain(domain=f"alias-{i:03d}.{tenants[i % 3].slug}.localhost", tenant=tenants[i % 3],
               is_primary=False) for i in range(300)])
    hosts = [f"alias-{i:03d}.{tenants[i % 3].slug}.localhost" for i in range(300)]
    for host in hosts:
        assert get(client, host).status_code == 200
    counts = []
    for host in hosts:
        with CaptureQueriesContext(connection) as captured:
            assert get(client, host).status_code == 200
        counts.append(kinds(captured))
    # Host i is an alias of tenant i % 3, whose pages differ a little from the others'.
    assert counts[299] == counts[2] and counts[150] == counts[0]
    assert all(c == counts[i % 3] for i, c in enumerate(counts))
    for c in counts[:3]:
        assert c["domain"] == c["content_type"] == 0
        assert c["search_path"] == 1  # consecutive requests go to different schemas


def test_suspend_in_this_process_takes_effect_on_the_next_request(client, session_tenants):
    assert get(client, "north.localhost").status_code == 200
    lifecycle.suspend("north")
    response = get(client, "north.localhost")
    assert response.status_code == 503 and response["Retry-After"] == "3600"
    assert "Северная область" in response.content.decode()
    assert get(client, "south.localhost").status_code == 200
    lifecycle.resume("north")
    assert get(client, "north.localhost").status_code == 200


def test_archive_in_this_process_takes_effect_on_the_next_request(client, session_tenants):
    assert get(client, "south.localhost").status_code == 200
    south = Tenant.objects.get(slug="south")
    south.status = Tenant.Status.ARCHIVED
    south.save()
    assert get(client, "south.localhost").status_code == 410


def test_a_deleted_domain_stops_resolving(client, session_tenants):
    north = Tenant.objects.get(slug="north")
    alias = Domain.objects.create(domain="alias.north.localhost", tenant=north,
                                  is_primary=False)
    assert get(client, "alias.north.localhost").wsgi_request.tenant.slug == "north"
    alias.delete()
    assert get(client, "alias.north.localhost").status_code == 404

    # A queryset delete sends the signal for every row too.
    Domain.objects.create(domain="alias.north.localhost", tenant=north, is_primary=False)
    assert get(client, "alias.north.localhost").status_code == 200
    Domain.objects.filter(domain="alias.north.localhost").delete()
    assert get(client, "alias.north.localhost").status_code == 404


def test_unknown_hosts_are_cached_for_the_ttl_only(client, session_tenants, fresh_cache):
    assert get(client, "newtown.localhost", "/").status_code == 404
    with CaptureQueriesContext(connection) as again:
        assert get(client, "newtown.localhost", "/").status_code == 404
    assert kinds(again)["domain"] == 0  # negatively cached

    # A change no signal reports (a bulk insert) is seen once the entry expires, not later.
    Domain.objects.bulk_create([Domain(domain="newtown.localhost",
                                       tenant=Tenant.objects.get(slug="north"))])
    assert get(client, "newtown.localhost", "/").status_code == 404
    fresh_cache.now += 5.1
    assert get(client, "newtown.localhost", "/ru/").status_code == 200


def test_a_flood_of_unknown_hosts_cannot_push_tenants_out(client, session_tenants,
                                                         monkeypatch):
    monkeypatch.setattr(host_cache.unknown, "size", 5)
    get(client, "north.localhost")
    for i in range(20):
        assert get(client, f"made-up-{i}.localhost", "/").status_code == 404
    assert len(host_cache.unknown) == 5
    with CaptureQueriesContext(connection) as captured:
        assert get(client, "north.localhost").status_code == 200
    assert kinds(captured)["domain"] == 0


def test_without_shared_notices_other_processes_changes_show_within_the_short_ttl(
        client, session_tenants, fresh_cache):
    assert get(client, "south.localhost").status_code == 200
    # .update() sends no signal: this process learns it like any other process would.
    Tenant.objects.filter(slug="south").update(status=Tenant.Status.SUSPENDED)
    fresh_cache.now += 4.9
    assert get(client, "south.localhost").status_code == 200
    fresh_cache.now += 0.2
    assert get(client, "south.localhost").status_code == 503


@pytest.fixture
def shared_notices(settings):
    """The "routing" cache on a real Redis (a database of the test run's own), as in
    production: notices given by any process reach this one."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    url = base.rsplit("/", 1)[0] + "/15"
    settings.CACHES = {**settings.CACHES, NOTICE_CACHE: cache_settings(url, 0.5)[NOTICE_CACHE]}
    host_cache.shared = None
    yield url
    host_cache.shared = None


def _notice_from_another_process(url: str) -> None:
    """What every save of a Tenant or Domain does in any process: a new token in Redis."""
    script = (
        "import uuid, django; from django.conf import settings; "
        "from dgbox.settings.base import cache_settings; "
        f"settings.configure(CACHES=cache_settings({url!r}, 0.5)); django.setup(); "
        "from django.core.cache import caches; "
        f"caches[{NOTICE_CACHE!r}].set({NOTICE_KEY!r}, uuid.uuid4().hex, timeout=None)")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": ""}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)


def test_a_notice_from_another_process_is_seen_on_the_next_request(
        client, session_tenants, shared_notices, fresh_cache):
    assert get(client, "south.localhost").status_code == 200
    assert host_cache.shared
    Tenant.objects.filter(slug="south").update(status=Tenant.Status.SUSPENDED)
    fresh_cache.now += 60  # past the short TTL: with notices, the cache trusts its rows
    assert get(client, "south.localhost").status_code == 200
    _notice_from_another_process(shared_notices)
    fresh_cache.now += host_cache.notice_interval  # read at most once per interval
    assert get(client, "south.localhost").status_code == 503
    fresh_cache.now += 301  # what sends no notice still shows within the long TTL
    Tenant.objects.filter(slug="south").update(status=Tenant.Status.ACTIVE)
    assert get(client, "south.localhost").status_code == 200


def test_the_notice_is_read_at_most_once_per_interval(
        client, session_tenants, shared_notices, fresh_cache, monkeypatch):
    """A busy process reads the change notice from Redis once per interval, not on every
    request; another process's notice shows at the first request after the interval, and
    this process's own notices at once."""
    monkeypatch.setattr(host_cache, "notice_interval", 1.0)
    reads = []
    real_read = host_cache_module.read_notice
    monkeypatch.setattr(host_cache_module, "read_notice",
                        lambda: reads.append(1) or real_read())
    assert get(client, "south.localhost").status_code == 200
    assert get(client, "north.localhost").status_code == 200
    assert len(reads) == 1
    Tenant.objects.filter(slug="south").update(status=Tenant.Status.SUSPENDED)
    _notice_from_another_process(shared_notices)
    fresh_cache.now += 0.9
    assert get(client, "south.localhost").status_code == 200  # within the interval
    fresh_cache.now += 0.2
    assert get(client, "south.localhost").status_code == 503
    assert len(reads) == 2
    # This process's own change: seen on the very next request, with no read.
    lifecycle.resume("south")
    assert get(client, "south.localhost").status_code == 200
    assert len(reads) == 2


def test_cache_can_be_turned_off(client, session_tenants, monkeypatch):
    monkeypatch.setattr(host_cache, "local_ttl", 0)
    get(client, "north.localhost")
    with CaptureQueriesContext(connection) as captured:
        assert get(client, "north.localhost").status_code == 200
        assert get(client, "atlantis.localhost").status_code == 404
    assert kinds(captured)["domain"] == 2  # one lookup per request, as stock django-tenants


def test_a_bounded_cache_degrades_gently_past_its_size():
    """Cycling over more keys than it holds: an LRU would miss every time; random eviction
    keeps most hits."""
    cache: BoundedCache[int, int] = BoundedCache(256, rng=random.Random(7))  # noqa: S311
    hits = 0
    for round_ in range(10):
        for key in range(300):
            if cache.get(key) is not None:
                hits += round_ > 0
            else:
                cache.put(key, key)
    assert len(cache) == 256
    assert hits > 0.6 * 9 * 300


# --- Content types: kept per schema, never served across schemas ----------------------------


def _ids(schema):
    with schema_context(schema):
        return {(app, model): pk for app, model, pk in
                ContentType.objects.values_list("app_label", "model", "id")}


@pytest.fixture
def differing_model(session_tenants):
    """A model whose content type id differs between the public and a tenant schema: what
    makes a shared cache dangerous (django-tenants clears it on every switch for this)."""
    from django.apps import apps

    public, north = _ids("public"), _ids("north")
    for key in sorted(set(public) & set(north)):
        if public[key] != north[key]:
            return apps.get_model(*key), public[key], north[key]
    pytest.fail("public and tenant schemas have the same content type ids: premise changed")


def test_content_types_follow_the_schema_of_the_connection(client, differing_model):
    model, public_id, north_id = differing_model
    get(client, "north.localhost")
    assert ContentType.objects.get_for_model(model).id == north_id
    connection.set_schema_to_public()
    assert ContentType.objects.get_for_model(model).id == public_id
    with schema_context("north"):
        assert ContentType.objects.get_for_model(model).id == north_id
    assert ContentType.objects.get_for_model(model).id == public_id

    get(client, "localhost", "/")  # the national portal: the public schema
    assert ContentType.objects.get_for_model(model).id == public_id
    get(client, "north.localhost")
    with CaptureQueriesContext(connection) as captured:
        assert ContentType.objects.get_for_model(model).id == north_id
    assert len(captured) == 0  # north's cache came back with north's ids
    assert ContentType.objects.get_for_id(north_id).model_class() is model


def test_a_thread_switching_schema_leaves_other_threads_cache_alone(client, differing_model):
    model, public_id, north_id = differing_model
    get(client, "north.localhost")
    assert ContentType.objects.get_for_model(model).id == north_id
    seen = {}

    def other_thread():
        try:
            connection.set_schema_to_public()  # its own connection, in the public schema
            seen["id"] = ContentType.objects.get_for_model(model).id
        finally:
            connection.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert seen["id"] == public_id
    with CaptureQueriesContext(connection) as captured:
        assert ContentType.objects.get_for_model(model).id == north_id
    assert len(captured) == 0


def test_cached_content_types_do_not_outlive_a_rolled_back_transaction(differing_model):
    north = Tenant.objects.get(slug="north")
    content_types.attach(north)
    inside = content_types["default"]
    content_types.clear()
    connection.set_schema_to_public()
    # Outside this test's transaction (as after its rollback) north gets a cache of its own.
    scope = connection.atomic_blocks
    connection.atomic_blocks = []
    try:
        content_types.attach(north)
        assert content_types["default"] is not inside
    finally:
        connection.atomic_blocks = scope
        content_types.clear()


def test_hosts_read_together_are_not_all_read_again_together():
    """With shared notices each host's row is trusted until the host's next renewal, at a
    phase of its own: 1,000 hosts read in the same second are read again spread over the
    period, never later than `shared_ttl`, each once per period."""
    clock = Clock()
    cache = HostCache(size=2000, shared_ttl=300.0, local_ttl=5.0, clock=clock)
    cache.shared = True
    cache.notice = lambda now: "no change"
    looked_up: list[str] = []

    def lookup(hostname):
        looked_up.append(hostname)
        return {"host": hostname}

    hosts = [f"serve-{i:03d}.localhost" for i in range(1000)]
    for host in hosts:
        cache.get(host, lookup)
    assert len(looked_up) == 1000
    again = []
    for _ in range(10):  # a rotation every 30 seconds, over one period
        clock.now += 30
        looked_up.clear()
        for host in hosts:
            cache.get(host, lookup)
        again.append(len(looked_up))
    assert sum(again) == 1000  # each host once in the period
    assert max(again) < 200  # about 100 a rotation, not all in one
    clock.now += 301  # and none is trusted longer than shared_ttl
    looked_up.clear()
    for host in hosts:
        cache.get(host, lookup)
    assert len(looked_up) == 1000
