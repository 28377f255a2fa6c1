"""Host routing: tenant sites, the national portal, unknown hosts, maintenance, probes."""

import pytest

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
