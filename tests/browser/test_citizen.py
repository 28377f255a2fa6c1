"""A citizen on a phone finds a service, from the home page and through search; axe-core finds
no WCAG 2.2 A/AA violations on the pages they pass through."""

import pytest

# The live server runs in a thread on its own connection; the data it serves is committed by
# the session fixtures. The marker makes pytest-django set up the test database.
pytestmark = pytest.mark.django_db


def test_citizen_finds_a_service_from_the_home_page(site, phone, assert_accessible,
                                                    assert_fits_the_phone):
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


def test_citizen_finds_a_service_through_search(site, phone, assert_accessible):
    phone.goto(site + "/ru/")
    phone.get_by_label("Поиск по сайту").fill("справка")
    phone.get_by_role("button", name="Найти").click()
    phone.wait_for_url("**/ru/search/?q=*")
    assert "1 результат" in phone.get_by_role("status").first.inner_text()
    assert_accessible(phone)
    phone.get_by_role("link", name="Справка о составе семьи").click()
    phone.wait_for_url("**/ru/services/family-certificate/")
    assert phone.get_by_role("heading", level=1).inner_text() == "Справка о составе семьи"


def test_citizen_browses_by_life_event_and_finds_an_office(site, phone, assert_accessible,
                                                           assert_fits_the_phone):
    phone.goto(site + "/ru/")
    phone.get_by_role("link", name="Рождение ребёнка").first.click()
    assert "Регистрация рождения ребёнка" in phone.content()
    phone.goto(site + "/ru/offices/mfc-centre/")
    assert phone.get_by_role("heading", name="Часы работы").is_visible()
    assert_fits_the_phone(phone)
    assert_accessible(phone)


@pytest.mark.parametrize("path", ["/ru/news/mfc-saturday/", "/ru/having-a-baby/",
                                  "/ru/services/", "/ru/no-such-page/", "/en/"])
def test_other_pages_have_no_axe_violations(site, phone, path, assert_accessible,
                                            assert_fits_the_phone):
    response = phone.goto(site + path)
    assert response.status == (404 if "no-such" in path else 200)
    assert_fits_the_phone(phone)
    assert_accessible(phone)
