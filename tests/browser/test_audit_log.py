"""The audit log screens in the browser: a tenant's administrator signs in (after one wrong
password), reads the tenant's log in the Wagtail admin and filters it to failed sign-ins; an
operator reads the platform's log in the console on a phone. axe-core finds no WCAG 2.2
A/AA violation on either, and the console's log fits the phone."""

import re
import secrets

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from ..factories import forget_console_user

pytestmark = pytest.mark.django_db
DESK = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def people(browser_tenant, django_db_blocker):
    """The tenant's administrator (reads the admin in Russian) and an operator, committed for
    the live server. Their audit rows stay: nothing can delete them (the test database goes
    with the run)."""
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    password = secrets.token_urlsafe(12)
    users = get_user_model().objects
    with django_db_blocker.unblock():
        operator = users.create_superuser("audit-ops", "audit-ops@gov.example", password)
        with tenant_context(browser_tenant):
            admin = users.create_superuser("auditor", "auditor@lesnoy.example", password,
                                           first_name="Вера", last_name="Ревизорова")
            profile = UserProfile.get_for_user(admin)
            profile.preferred_language = "ru"
            profile.save()
    yield {"admin": admin.username, "operator": operator.username, "password": password}
    with django_db_blocker.unblock():
        forget_console_user(operator)


def test_tenant_administrator_reads_and_filters_the_log(site, browser, people,
                                                        assert_admin_accessible):
    context = browser.new_context(viewport=DESK, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{site}/admin/login/")
    page.locator("#id_username").fill(people["admin"])
    page.locator("#id_password").fill("not the password")
    page.locator("form button[type=submit]").click()
    expect(page.locator("#id_password")).to_be_visible()
    page.locator("#id_password").fill(people["password"])
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{site}/admin/")
    page.goto(f"{site}/admin/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Журнал аудита")
    rows = page.locator("#audit-events tbody tr")
    expect(rows.filter(has_text="Вход").filter(has_text="Вера Ревизорова")).not_to_have_count(0)
    assert_admin_accessible(page)
    page.get_by_label("Событие").select_option("sign_in_failed")
    page.get_by_role("button", name="Отобрать").click()
    expect(page).to_have_url(re.compile(r"kind=sign_in_failed"))
    expect(rows.filter(has_text="Неудачный вход")).not_to_have_count(0)
    expect(rows.filter(has_not_text="Неудачный вход")).to_have_count(0)
    assert_admin_accessible(page)
    context.close()


def test_operator_reads_the_platform_log_on_a_phone(server, phone, people, assert_accessible,
                                                    assert_fits_the_phone):
    portal = f"http://localhost:{server}"
    phone.goto(f"{portal}/operator/login/")
    phone.locator("#id_username").fill(people["operator"])
    phone.locator("#id_password").fill(people["password"])
    phone.locator("form button[type=submit]").click()
    phone.wait_for_url(f"{portal}/operator/")
    phone.goto(f"{portal}/operator/audit/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Журнал аудита")
    rows = phone.locator("#audit-events tbody tr")
    expect(rows.filter(has_text="audit-ops")).not_to_have_count(0)
    assert_accessible(phone)
    assert_fits_the_phone(phone)
    phone.get_by_label("Событие").select_option("tenant_launched")
    phone.get_by_role("button", name="Отобрать").click()
    expect(rows.filter(has_text="lesnoy")).to_have_count(1)
    assert_accessible(phone)
    assert_fits_the_phone(phone)
