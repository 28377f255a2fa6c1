"""The routing fast path (tenants/middleware.py): host cache, no redundant schema switch,
content types kept per schema. Correctness and query counts only; never speed."""

import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from tenants import lifecycle
from tenants.middleware import content_types, host_map
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
    monkeypatch.setattr(host_map, "ttl", 5.0)
    monkeypatch.setattr(host_map, "clock", clock)
    host_map.clear()
    yield clock
    host_map.clear()


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


def get(client, host, path="/ru/"):
    return client.get(path, HTTP_HOST=host)


def test_each_host_is_served_by_its_own_tenant(client, session_tenants):
    loads = host_map.loads
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
    assert host_map.loads == loads + 1  # one query loaded every host


def test_warm_requests_skip_the_lookup_the_switch_and_content_type_queries(client,
                                                                           session_tenants):
    get(client, "north.localhost")  # fills the page's own caches (Wagtail's site root paths)
    host_map.clear()
    content_types.forget()
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as cold:
        assert get(client, "north.localhost").status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert get(client, "north.localhost").status_code == 200
    cold_kinds, warm_kinds = kinds(cold), kinds(warm)
    # Cold: loading the host map, SET search_path to public and to the tenant, content types.
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

    # A change no signal reports here (another process, a bulk insert) is seen once the entry
    # expires, not later.
    Domain.objects.bulk_create([Domain(domain="newtown.localhost",
                                       tenant=Tenant.objects.get(slug="north"))])
    assert get(client, "newtown.localhost", "/").status_code == 404
    fresh_cache.now += 5.1
    assert get(client, "newtown.localhost", "/ru/").status_code == 200


def test_changes_from_other_processes_are_seen_within_the_ttl(client, session_tenants,
                                                              fresh_cache):
    assert get(client, "south.localhost").status_code == 200
    # .update() sends no signal: this process learns it like any other process would.
    Tenant.objects.filter(slug="south").update(status=Tenant.Status.SUSPENDED)
    fresh_cache.now += 4.9
    assert get(client, "south.localhost").status_code == 200
    fresh_cache.now += 0.2
    assert get(client, "south.localhost").status_code == 503


def test_cache_can_be_turned_off(client, session_tenants, monkeypatch):
    monkeypatch.setattr(host_map, "ttl", 0)
    get(client, "north.localhost")
    with CaptureQueriesContext(connection) as captured:
        assert get(client, "north.localhost").status_code == 200
        assert get(client, "atlantis.localhost").status_code == 404
    assert kinds(captured)["domain"] == 2  # one lookup per request, as stock django-tenants


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
