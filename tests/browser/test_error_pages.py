"""The pages a citizen gets when there is no site to show, on a phone: an unknown address
(404), a site under maintenance (503), a closed site (410), and a missing page inside a
tenant's site (404). Each is styled (its stylesheet loads on that very host), in its
language, fits the screen, and axe-core finds no WCAG 2.2 A/AA violations."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def closed_sites(browser_tenant, django_db_blocker):
    """A suspended and an archived tenant, committed for the live server."""
    from tenants.models import Tenant
    from tests.factories import launch

    hosts = {}
    with django_db_blocker.unblock():
        for slug, name, status in [("zakryto", "Закрытое", Tenant.Status.SUSPENDED),
                                   ("arkhiv", "Архивное", Tenant.Status.ARCHIVED)]:
            tenant = launch(name, slug=slug).tenant
            tenant.status = status
            tenant.save(update_fields=["status", "updated_at"])  # gives a change notice
            hosts[status] = tenant.primary_domain
        connection.set_schema_to_public()
    return hosts


def assert_styled(page):
    """The page's stylesheet loaded and applies (an unstyled page has no rules)."""
    rules = page.evaluate("[...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0)")
    assert rules > 100, "the stylesheet did not load"
    colour = page.evaluate(
        "getComputedStyle(document.querySelector('.govuk-header')).backgroundColor")
    assert colour not in ("", "rgba(0, 0, 0, 0)", "transparent"), "header is unstyled"


@pytest.mark.parametrize("which", ["unknown", "suspended", "archived"])
def test_pages_without_a_site_are_real_pages(server, phone, closed_sites, which, assert_accessible,
                                             assert_fits_the_phone):
    host = {"unknown": "nowhere.localhost", "suspended": closed_sites["suspended"],
            "archived": closed_sites["archived"]}[which]
    response = phone.goto(f"http://{host}:{server}/ru/services/")
    assert response.status == {"unknown": 404, "suspended": 503, "archived": 410}[which]
    assert phone.locator("html").get_attribute("lang") == "ru"
    heading = phone.get_by_role("heading", level=1).inner_text()
    assert heading == {"unknown": "Сайт не найден",
                       "suspended": "Сайт временно недоступен",
                       "archived": "Этот сайт больше не работает"}[which]
    assert_styled(phone)
    assert_fits_the_phone(phone)
    assert_accessible(phone)


def test_a_missing_page_keeps_the_tenant_header_and_menu(site, phone, browser_tenant,
                                                        assert_accessible, assert_fits_the_phone):
    response = phone.goto(site + "/ru/no-such-page/")
    assert response.status == 404
    assert phone.locator("html").get_attribute("lang") == "ru"
    assert phone.locator("header").get_by_text(browser_tenant.name).is_visible()
    assert phone.locator("#site-navigation a[href='/ru/services/']").count() == 1
    assert_styled(phone)
    assert_fits_the_phone(phone)
    assert_accessible(phone)
