"""Absolute links carry the port tenant sites are served on (DGBOX_SITE_PORT, which `dgbox demo
--port N` sets): the open API writes them from the tenant's Wagtail site, e-mails from the
setting. In the demo they used to come out as http://severnaya.localhost/... without it."""

import pytest
from django_tenants.utils import tenant_context
from wagtail.models import Site

from cms.provisioning import set_site_port
from services.cases.messages import tracking_url
from tenants.launch import LaunchRequest, launch_tenant

pytestmark = pytest.mark.django_db


def _links(client, host):
    response = client.get("/api/v2/pages/?limit=20", HTTP_HOST=host)
    assert response.status_code == 200
    items = response.json()["items"]
    assert items
    return [link for item in items for link in (item["meta"]["detail_url"],
                                                item["meta"]["html_url"])]


def test_api_and_email_links_carry_the_port_of_the_site(client, settings):
    settings.DGBOX_SITE_PORT = 8123
    tenant = launch_tenant(LaunchRequest(name="Портовая", kind="region", slug="portovaya",
                                         admin_email="admin@portovaya.example")).tenant
    with tenant_context(tenant):
        assert Site.objects.get().port == 8123
    links = _links(client, "portovaya.localhost:8123")
    assert all(link.startswith("http://portovaya.localhost:8123/") for link in links), links
    assert tracking_url(tenant, "ru") == "http://portovaya.localhost:8123/ru/track/"

    # `dgbox demo --port 8124` serves it on another port: its links follow.
    settings.DGBOX_SITE_PORT = 8124
    with tenant_context(tenant):
        set_site_port(8124)
    links = _links(client, "portovaya.localhost:8124")
    assert all(link.startswith("http://portovaya.localhost:8124/") for link in links), links
    assert tracking_url(tenant, "ru") == "http://portovaya.localhost:8124/ru/track/"


def test_without_a_port_links_have_none(client, settings):
    settings.DGBOX_SITE_PORT = 0  # e.g. behind a proxy on 80/443
    tenant = launch_tenant(LaunchRequest(name="Беспортовая", kind="region", slug="besportovaya",
                                         admin_email="admin@besportovaya.example")).tenant
    with tenant_context(tenant):
        assert Site.objects.get().port == 80
    links = _links(client, "besportovaya.localhost")
    assert all(link.startswith("http://besportovaya.localhost/") for link in links), links
