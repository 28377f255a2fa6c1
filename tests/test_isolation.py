"""Tenant isolation: pages, cache entries and sessions never cross tenants."""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context
from wagtail.models import Page, Site

pytestmark = pytest.mark.django_db


def test_same_page_ids_different_tenants(client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        home_a = Page.objects.get(depth=2)
    with tenant_context(tenant_b):
        home_b = Page.objects.get(depth=2)
        # The same primary key names a different page in B's schema...
        assert Page.objects.get(pk=home_a.pk).title == tenant_b.name
        # ...and nothing of A's is reachable from B.
        assert not Page.objects.filter(title=tenant_a.name).exists()
    assert home_a.pk == home_b.pk
    assert home_a.title != home_b.title

    page_a = client.get("/ru/", HTTP_HOST="north.localhost").content.decode()
    page_b = client.get("/ru/", HTTP_HOST="south.localhost").content.decode()
    assert tenant_a.name in page_a and tenant_b.name not in page_a
    assert tenant_b.name in page_b and tenant_a.name not in page_b


def test_cache_entries_are_per_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        cache.set("greeting", "from A")
        assert cache.get("greeting") == "from A"
    with tenant_context(tenant_b):
        assert cache.get("greeting") is None
        cache.set("greeting", "from B")
    with tenant_context(tenant_a):
        assert cache.get("greeting") == "from A"
    connection.set_schema_to_public()
    assert cache.get("greeting") is None


def test_wagtail_site_root_paths_are_not_served_to_the_next_tenant(client, tenant_a, tenant_b):
    """Wagtail caches site root paths in the default cache under a fixed key; without a
    tenant-aware key function the first tenant's would be served to the next one."""
    cache.clear()
    client.get("/ru/", HTTP_HOST="north.localhost")  # fills A's cached root paths
    with tenant_context(tenant_b):
        paths = Site.get_site_root_paths()
    assert [p.root_url for p in paths] == ["http://south.localhost"]
    body = client.get("/ru/", HTTP_HOST="south.localhost").content.decode()
    assert 'href="/ru/services/"' in body  # B's own links, resolved against B's site
    assert "north.localhost" not in body


def test_session_of_tenant_a_is_no_login_on_tenant_b(client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        admin_a = get_user_model().objects.get(email="admin@north.example")
        client.force_login(admin_a)  # session row stored in A's schema
    assert client.get("/admin/", HTTP_HOST="north.localhost").status_code == 200
    # The same cookie sent to B finds no session there: B's admin asks for a login.
    response = client.get("/admin/", HTTP_HOST="south.localhost")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    with tenant_context(tenant_b):
        assert not get_user_model().objects.filter(email="admin@north.example").exists()


def test_users_of_a_are_unknown_to_b(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        emails_a = set(get_user_model().objects.values_list("email", flat=True))
    with tenant_context(tenant_b):
        emails_b = set(get_user_model().objects.values_list("email", flat=True))
    assert emails_a == {"admin@north.example"}
    assert emails_b == {"admin@south.example"}
