"""Every error page is a real page: in its language, with its stylesheet reachable on the very
host that shows it (static files are served before tenant routing), the tenant's own header
and menu on a tenant's 404, and the security headers every other page has."""

import re

import pytest
from django.test import Client
from django.utils import translation

from tenants import lifecycle
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')


def lang_of(response) -> str:
    found = re.search(r'<html lang="([^"]*)"', response.content.decode())
    assert found, "no <html lang> on the page"
    return found[1]


def assert_styled(client, response, host):
    """The page links a stylesheet, and that URL, asked on the same host, is the CSS."""
    found = STYLESHEET.search(response.content.decode())
    assert found, "the page links no stylesheet"
    css = client.get(found[1], HTTP_HOST=host)
    assert css.status_code == 200, f"{found[1]} on {host} answered {css.status_code}"
    assert css["Content-Type"].startswith("text/css")
    assert b".govuk-header" in b"".join(css.streaming_content)


@pytest.mark.parametrize("host", ["atlantis.localhost", "evil.example.com"])
def test_unknown_host_page_is_styled_and_in_the_platform_language(client, session_tenants,
                                                                   host):
    with translation.override("en"):  # whatever the thread served last does not leak in
        response = client.get("/", HTTP_HOST=host)
    assert response.status_code == 404
    assert lang_of(response) == "ru" and response["Content-Language"] == "ru"
    assert "Сайт не найден" in response.content.decode()
    assert_styled(client, response, host)


def test_maintenance_page_is_styled_and_in_the_tenant_language(client, session_tenants):
    lifecycle.suspend("south")
    response = client.get("/ru/services/", HTTP_HOST="south.localhost")
    assert response.status_code == 503
    assert lang_of(response) == "ru"
    assert "временно недоступен" in response.content.decode()
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware runs first
    assert_styled(client, response, "south.localhost")

    tenant = Tenant.objects.get(slug="south")
    tenant.default_language = "en"
    tenant.save(update_fields=["default_language"])
    response = client.get("/", HTTP_HOST="south.localhost")
    assert response.status_code == 503
    assert lang_of(response) == "en" and response["Content-Language"] == "en"
    assert "This site is temporarily unavailable" in response.content.decode()


def test_archived_page_is_styled_and_in_the_tenant_language(client, session_tenants):
    lifecycle.archive("south")
    with translation.override("en"):
        response = client.get("/", HTTP_HOST="south.localhost")
    assert response.status_code == 410
    assert lang_of(response) == "ru"
    assert "больше не работает" in response.content.decode()
    assert_styled(client, response, "south.localhost")


def test_static_files_do_not_open_a_tenant_site(client, session_tenants):
    """Static files are code assets, the same for every host; media and pages still go
    through routing, so a suspended tenant's pages stay closed."""
    lifecycle.suspend("south")
    assert client.get("/static/cms/dgbox.css", HTTP_HOST="south.localhost").status_code == 200
    assert client.get("/ru/", HTTP_HOST="south.localhost").status_code == 503
    assert client.get("/media/south/x.png", HTTP_HOST="south.localhost").status_code == 503
    assert client.get("/static/../ru/", HTTP_HOST="south.localhost").status_code != 200


@pytest.mark.parametrize("language", ["ru", "en"])
def test_a_tenant_404_has_the_tenant_header_menu_and_language(client, session_tenants,
                                                             language):
    response = client.get(f"/{language}/no-such-page/", HTTP_HOST="north.localhost")
    assert response.status_code == 404
    body = response.content.decode()
    assert lang_of(response) == language
    assert "Северная область" in body  # the tenant's site name in its header
    assert f'href="/{language}/services/"' in body  # the tenant's menu
    with translation.override(language):
        assert translation.gettext("Page not found") in body
        assert translation.gettext("Government services portal") not in body  # the portal's
    assert_styled(client, response, "north.localhost")


def test_the_portal_404_stays_the_portal_one(client, session_tenants):
    response = client.get("/no-such-page/", HTTP_HOST="localhost")
    assert response.status_code == 404
    assert "Страница не найдена" in response.content.decode()
    assert lang_of(response) == "ru"


@pytest.mark.parametrize("language", ["ru", "en"])
def test_the_500_page_is_in_the_language_of_the_page(session_tenants, monkeypatch, language):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("cms.views.Paginator", broken)
    client = Client(raise_request_exception=False)
    response = client.get(f"/{language}/search/?q=x", HTTP_HOST="north.localhost")
    assert response.status_code == 500
    assert lang_of(response) == language
    body = response.content.decode()
    with translation.override(language):
        heading = translation.gettext("Sorry, there is a problem with the service")
    assert f'<h1 class="govuk-heading-l">{heading}</h1>' in body
    assert_styled(client, response, "north.localhost")
