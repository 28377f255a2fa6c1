"""A citizen on a phone finds a service, from the home page and through search; axe-core finds
no WCAG 2.2 A/AA violations on the pages they pass through."""

import pytest
from axe_playwright_python.sync_playwright import Axe

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
AXE = Axe()
# The live server runs in a thread on its own connection; the data it serves is committed by
# the session fixtures. The marker makes pytest-django set up the test database.
pytestmark = pytest.mark.django_db


def assert_accessible(page):
    results = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    assert results.violations_count == 0, results.generate_report()


def assert_fits_the_phone(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen (horizontal scrolling)"


def test_citizen_finds_a_service_from_the_home_page(site, phone):
    phone.goto(site + "/")
    assert phone.url.endswith("/ru/")
    assert phone.get_by_role("heading", level=1).inner_text() == "Лесной"
    assert_fits_the_phone(phone)
    assert_accessible(phone)
    phone.get_by_role("link", name="Запись в детский сад").first.click()
    phone.wait_for_url("**/ru/services/kindergarten-place/")
    assert phone.get_by_role("heading", level=1).inner_text() == "Запись в детский сад"
    assert phone.get_by_text("Кто может обратиться").is_visible()
    assert_fits_the_phone(phone)
    assert_accessible(phone)


def test_citizen_finds_a_service_through_search(site, phone):
    phone.goto(site + "/ru/")
    phone.get_by_label("Поиск по сайту").fill("справка")
    phone.get_by_role("button", name="Найти").click()
    phone.wait_for_url("**/ru/search/?q=*")
    assert "1 результат" in phone.get_by_role("status").first.inner_text()
    assert_accessible(phone)
    phone.get_by_role("link", name="Справка о составе семьи").click()
    phone.wait_for_url("**/ru/services/family-certificate/")
    assert phone.get_by_role("heading", level=1).inner_text() == "Справка о составе семьи"


def test_citizen_browses_by_life_event_and_finds_an_office(site, phone):
    phone.goto(site + "/ru/")
    phone.get_by_role("link", name="Рождение ребёнка").first.click()
    assert "Регистрация рождения ребёнка" in phone.content()
    phone.goto(site + "/ru/offices/mfc-centre/")
    assert phone.get_by_role("heading", name="Часы работы").is_visible()
    assert_fits_the_phone(phone)
    assert_accessible(phone)


@pytest.mark.parametrize("path", ["/ru/news/mfc-saturday/", "/ru/having-a-baby/",
                                  "/ru/services/", "/ru/no-such-page/", "/en/"])
def test_other_pages_have_no_axe_violations(site, phone, path):
    response = phone.goto(site + path)
    assert response.status == (404 if "no-such" in path else 200)
    assert_fits_the_phone(phone)
    assert_accessible(phone)
