"""The /api/v1/ reference page (services/api/openapi.py) on a phone: rendered on the server,
no script of its own, within the Content-Security-Policy (the browser conftest fails a test on
any violation), no wider than 360 px, and axe-core finds no WCAG 2.2 A/AA violation."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_api_reference_reads_on_a_phone(site, phone, assert_accessible,
                                            assert_fits_the_phone):
    response = phone.goto(site + "/api/v1/docs/")
    assert response.status == 200
    assert phone.get_by_role("heading", level=1).count() == 1
    assert phone.locator("a[href='#op-services_list']").count() == 1
    assert phone.locator("#op-services_list").is_visible()
    assert phone.locator("script[src^='http']").count() == 0
    assert_fits_the_phone(phone)
    assert_accessible(phone)
