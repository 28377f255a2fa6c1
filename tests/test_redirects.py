"""Old addresses lead to the page: Wagtail's redirects answered for a tenant's 404s
(cms.middleware.RedirectMiddleware), those an editor adds and those Wagtail makes when a
published page's slug changes; each tenant's own, never another's; never on the national
portal. Real PostgreSQL, the demo content."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from wagtail.contrib.redirects.models import Redirect
from wagtail.models import Page

from cms.models import ServicePage

from .factories import NORTH, SOUTH

pytestmark = pytest.mark.django_db
SERVICE = "/ru/services/building-permit/"


def test_a_page_whose_slug_changed_is_found_at_its_old_address(
        client, tenant_a, tenant_b, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        page = ServicePage.objects.get(slug="building-permit", locale__language_code="ru")
        page.slug = "razreshenie-na-stroitelstvo"
        with django_capture_on_commit_callbacks(execute=True):  # Wagtail makes it at commit
            page.save_revision().publish()
        assert Redirect.objects.filter(redirect_page=page, automatically_created=True).exists()
    connection.set_schema_to_public()
    old = client.get(SERVICE, **NORTH)
    assert old.status_code == 301
    assert old["Location"].endswith("/ru/services/razreshenie-na-stroitelstvo/")
    assert client.get(old["Location"], **NORTH).status_code == 200
    # The other tenant's page of the same address is its own, untouched.
    assert client.get(SERVICE, **SOUTH).status_code == 200


def test_an_editors_redirect_is_its_tenants_only(client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        news = Page.objects.get(url_path="/home/news/", locale__language_code="ru")
        Redirect.objects.create(old_path="/ru/novosti-arhiv", redirect_page=news,
                                is_permanent=False)
    connection.set_schema_to_public()
    north = client.get("/ru/novosti-arhiv/?utm_source=листовка", **NORTH)
    assert north.status_code == 302 and north["Location"].endswith("/ru/news/")
    assert client.get("/ru/novosti-arhiv/", **SOUTH).status_code == 404


@pytest.mark.parametrize("path", ["/ru/нет-такой-страницы/", "/ru/%00/", "/ru/" + "я" * 300 + "/"])
def test_an_address_without_a_page_or_redirect_is_still_a_404(client, tenant_a, path):
    assert client.get(path, **NORTH).status_code in (400, 404)


def test_the_national_portal_has_no_redirects_and_still_answers_404(client, session_tenants):
    assert client.get("/no-such-page/", HTTP_HOST="localhost").status_code == 404
    assert client.get("/x/", HTTP_HOST="unknown.localhost").status_code == 404
