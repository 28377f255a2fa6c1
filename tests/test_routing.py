"""Host routing: tenant sites, the national portal, unknown hosts, maintenance, probes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants import lifecycle
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_unknown_host_gets_a_proper_404_page(client, session_tenants):
    response = client.get("/", HTTP_HOST="atlantis.localhost")
    assert response.status_code == 404
    assert "Сайт не найден" in response.content.decode()
    assert "atlantis.localhost" in response.content.decode()


def test_host_outside_allowed_hosts_is_404_not_500(client, session_tenants):
    response = client.get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 404
    assert "Сайт не найден" in response.content.decode()


def test_unknown_path_on_a_tenant_is_404(client, session_tenants):
    response = client.get("/ru/no-such-page/", HTTP_HOST="north.localhost")
    assert response.status_code == 404
    assert "Страница не найдена" in response.content.decode()


def test_suspended_tenant_serves_a_maintenance_page(client, session_tenants):
    lifecycle.suspend("south")
    response = client.get("/", HTTP_HOST="south.localhost")
    assert response.status_code == 503
    assert response["Retry-After"] == "3600"
    body = response.content.decode()
    assert "временно недоступен" in body and "Южная область" in body
    assert client.get("/admin/", HTTP_HOST="south.localhost").status_code == 503
    # Other tenants are unaffected.
    assert client.get("/ru/", HTTP_HOST="north.localhost").status_code == 200
    lifecycle.resume("south")
    assert client.get("/ru/", HTTP_HOST="south.localhost").status_code == 200


def test_lifecycle_refuses_impossible_moves(session_tenants):
    with pytest.raises(lifecycle.LifecycleError, match="only a suspended tenant"):
        lifecycle.resume("north")
    with pytest.raises(lifecycle.LifecycleError, match="No tenant"):
        lifecycle.suspend("atlantis")
    with pytest.raises(lifecycle.LifecycleError, match="No tenant"):
        lifecycle.suspend("public")


def test_archived_tenant_is_gone(client, session_tenants):
    Tenant.objects.filter(slug="south").update(status=Tenant.Status.ARCHIVED)
    response = client.get("/", HTTP_HOST="south.localhost")
    assert response.status_code == 410
    assert "больше не работает" in response.content.decode()


def test_portal_lists_active_tenants_by_region(client, session_tenants):
    lifecycle.suspend("south")
    body = client.get("/", HTTP_HOST="localhost").content.decode()
    assert "Северная область" in body and "Рябиновка" in body
    assert "Южная область" not in body
    # The municipality is listed inside its region's entry.
    region_at, municipality_at = body.index("Северная область"), body.index("Рябиновка")
    assert region_at < municipality_at
    assert 'href="http://ryabinovka.localhost/"' in body


@pytest.mark.parametrize("host", ["10.1.2.3", "unknown.example", "north.localhost"])
def test_health_probes_answer_on_any_host(client, host):
    assert client.get("/healthz", HTTP_HOST=host).json() == {"status": "ok"}
    ready = client.get("/readyz", HTTP_HOST=host)
    assert ready.status_code == 200 and ready.json()["status"] == "ok"


def _add_regions(count: int, start: int = 0) -> None:
    """Region rows without schemas (bulk_create skips the schema): what the portal reads."""
    Tenant.objects.bulk_create([
        Tenant(name=f"Область {i:04d}", slug=f"oblast-{i:04d}", schema_name=f"oblast_{i:04d}",
               kind=Tenant.Kind.REGION, status=Tenant.Status.ACTIVE)
        for i in range(start, start + count)])


def _portal_queries(client, page: int) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/", {"page": page}, HTTP_HOST="localhost")
    assert response.status_code == 200
    return len(captured), response.content.decode()


def test_portal_costs_the_same_queries_whatever_the_number_of_tenants(client, session_tenants):
    client.get("/", HTTP_HOST="localhost")  # the host's lookup, the site's own caches
    _add_regions(30)  # 32 regions: two pages
    first_few, _ = _portal_queries(client, 1)
    last_few, _ = _portal_queries(client, 2)
    _add_regions(120, start=30)  # 152 regions: seven pages
    first_many, body = _portal_queries(client, 1)
    last_many, last = _portal_queries(client, 7)
    assert (first_many, last_many) == (first_few, last_few)
    assert body.count('<h2 class="govuk-heading-m">') == 25  # one page of regions
    assert "Page 1 of 7" in body or "Страница 1 из 7" in body
    # Sorted by name: "Северная область" (and its municipality under it) comes after
    # "Область 0000".."Область 0149", on the last page.
    assert "Северная область" not in body
    assert "Северная область" in last and "Рябиновка" in last


def test_portal_search_finds_tenants_by_name(client, session_tenants):
    _add_regions(30)
    body = client.get("/", {"q": "рябин"}, HTTP_HOST="localhost").content.decode()
    assert 'href="http://ryabinovka.localhost/"' in body
    assert "Северная область" not in body
    nothing = client.get("/", {"q": "Атлантида"}, HTTP_HOST="localhost")
    assert nothing.status_code == 200 and "Атлантида" in nothing.content.decode()


@pytest.mark.parametrize(("params", "status"), [
    ({"page": "x"}, 200), ({"page": "99999"}, 200), ({"page": "-1"}, 200),
    ({"q": "<script>" * 50}, 200),
    ({"q": "a\x00b"}, 400),  # refused before the view by dgbox.middleware
])
def test_portal_bad_input_is_never_an_error(client, session_tenants, params, status):
    response = client.get("/", params, HTTP_HOST="localhost")
    assert response.status_code == status
    assert "<script><script>" not in response.content.decode()
