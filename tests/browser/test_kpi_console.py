"""An operator on a phone reads the KPI dashboard of the nation and of a region, a
municipality's KPIs among its peers, the channel cost model and the population form; then the
same dashboard with JavaScript off. axe-core finds no WCAG 2.2 A/AA violation and nothing
overflows the 360 px screen."""

import datetime
import re
import secrets

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ..factories import forget_console_user

pytestmark = pytest.mark.django_db
PHONE = {"width": 360, "height": 740}  # the `phone` fixture's screen


@pytest.fixture(scope="module")
def kpi_data(browser_tenant, session_tenants, django_db_blocker):
    """An operator and two days of KPIs for north, ryabinovka and the browser tenant,
    committed for the live server and removed afterwards."""
    from django.contrib.auth import get_user_model

    from tenants.metering.counters import platform_today
    from tenants.models import TenantKpi

    password = secrets.token_urlsafe(12)
    rows = []
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_superuser("kpi-ops", "kpi@gov.example",
                                                         password)
        for n, tenant in enumerate((session_tenants["a"], session_tenants["m"], browser_tenant)):
            for back in (2, 3):
                rows.append(TenantKpi.objects.create(
                    tenant=tenant, schema_name=tenant.schema_name, computed_at=timezone.now(),
                    day=platform_today() - datetime.timedelta(days=back),
                    cases_online=20 + 10 * n, cases_office=10, cases_phone=2, decided=12,
                    decided_with_deadline=10, decided_on_time=8 + n, decided_automatically=3,
                    decision_days={"2": 6, "9": 6}, page_views=300, forms_started=60,
                    cost=100, savings=500, services_published=5))
    yield {"username": user.username, "password": password}
    with django_db_blocker.unblock():
        TenantKpi.objects.filter(pk__in=[r.pk for r in rows]).delete()
        forget_console_user(user)  # with its sessions


def _sign_in(page, portal, data):
    page.goto(f"{portal}/operator/login/")
    page.locator("#id_username").fill(data["username"])
    page.locator("#id_password").fill(data["password"])
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(f"{portal}/operator/")


def test_kpi_dashboards_on_a_phone_with_and_without_javascript(
        server, browser, phone, kpi_data, assert_accessible, assert_fits_the_phone):
    portal = f"http://localhost:{server}"
    _sign_in(phone, portal, kpi_data)

    def check(page):
        assert_accessible(page)
        assert_fits_the_phone(page)

    phone.goto(f"{portal}/operator/kpis/")
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    expect(phone.locator("#channel-mix tbody tr")).to_have_count(4)
    assert phone.locator("svg[role=img]").count() >= 4
    check(phone)
    phone.locator("#id_days").select_option("365")
    phone.locator("form.dgbox-kpi-filters button[type=submit]").click()
    expect(phone).to_have_url(re.compile(r"days=365"))
    check(phone)

    phone.goto(f"{portal}/operator/kpis/?region=north")
    expect(phone.locator("#ranking + div tbody")).to_contain_text("Рябиновка")
    check(phone)
    phone.goto(f"{portal}/operator/tenants/ryabinovka/kpis/")
    expect(phone.locator(".dgbox-highlight")).to_contain_text("Рябиновка")
    check(phone)

    phone.goto(f"{portal}/operator/tenants/ryabinovka/population/")
    phone.locator("#id_population").fill("сто")
    phone.locator("main form button[type=submit]").click()
    expect(phone.locator(".govuk-error-summary")).to_be_visible()
    check(phone)
    phone.goto(f"{portal}/operator/kpis/cost-model/")
    expect(phone.locator("#versions tbody tr").first).to_be_visible()
    check(phone)

    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="ru-RU")
    try:
        plain = context.new_page()
        _sign_in(plain, portal, kpi_data)
        plain.goto(f"{portal}/operator/kpis/?days=90&region=north")
        expect(plain.locator("svg[role=img]").first).to_be_visible()
        expect(plain.locator("#funnel-table tbody tr")).to_have_count(4)
        plain.locator("#id_days").select_option("7")
        plain.locator("form.dgbox-kpi-filters button[type=submit]").click()
        expect(plain).to_have_url(re.compile(r"days=7"))
        assert_fits_the_phone(plain)
    finally:
        context.close()
