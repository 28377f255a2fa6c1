"""The KPI dashboard (Performance, «Показатели») in the browser: a tenant's administrator reads
it on a desktop and narrows it to one service, then on a 360 px phone with JavaScript off;
axe-core finds no WCAG 2.2 A/AA violation, the charts are images with a summary, their
figures are in tables, and nothing is wider than the phone."""

import datetime
import re
import secrets
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db
DESK = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def kpis(browser_tenant, django_db_blocker):
    """A week of snapshots for the browser tenant (overall and one service) and an
    administrator reading the admin in Russian, committed for the live server; the snapshots
    are removed afterwards."""
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    from cms.models import ServicePage
    from services.cases.escalation import today
    from services.kpis.models import KpiSnapshot

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        admin = get_user_model().objects.create_superuser(
            "kpi-reader", "kpi-reader@lesnoy.example", password, first_name="Инна",
            last_name="Показателева")
        profile = UserProfile.get_for_user(admin)
        profile.preferred_language = "ru"
        profile.save()
        service = ServicePage.objects.filter(locale__language_code="ru").order_by("pk").first()
        for back in range(3, 10):
            day = today() - datetime.timedelta(days=back)
            common = {"day": day, "computed_at": timezone.now(), "cost_model_version": 1}
            KpiSnapshot.objects.create(
                **common, cases_online=40 + back, cases_office=5, cases_phone=3, cases_post=2,
                decided=30, decided_with_deadline=28, decided_on_time=25,
                decided_automatically=6, decision_days={"2": 20, "9": 10}, page_views=400,
                forms_started=90, feedback_useful=12, feedback_not_useful=4,
                cost=Decimal(500), savings=Decimal(2000), services_published=12,
                services_online=9, services_api=4)
            KpiSnapshot.objects.create(
                **common, page=service, category="", cases_online=20, cases_office=2,
                decided=15, decided_with_deadline=15, decided_on_time=14,
                decision_days={"2": 15}, page_views=200, forms_started=40)
    yield {"username": admin.username, "password": password, "service": service}
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        KpiSnapshot.objects.all().delete()


def sign_in(page, site, kpis):
    page.goto(f"{site}/admin/login/")
    page.locator("#id_username").fill(kpis["username"])
    page.locator("#id_password").fill(kpis["password"])
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"{site}/admin/")


def test_the_dashboard_on_a_desktop_and_on_a_phone_without_javascript(
        site, browser, kpis, assert_admin_accessible, assert_fits_the_phone):
    context = browser.new_context(viewport=DESK, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        sign_in(page, site, kpis)
        page.goto(f"{site}/admin/performance/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator('[data-kpi="cases"] dd').first).to_have_text(re.compile(r"\d"))
        charts = page.locator("svg.dgbox-chart[role=img]")
        expect(charts).to_have_count(4)
        assert all(charts.nth(i).get_attribute("aria-label") for i in range(4))
        assert_admin_accessible(page)
        # Narrowed to the service: its own figures, one row in the services' table.
        page.locator("#id_service").select_option(str(kpis["service"].pk))
        page.locator("form.dgbox-kpi-filters button[type=submit]").click()
        page.wait_for_url(re.compile(rf"service={kpis['service'].pk}"))
        expect(page.locator('[data-kpi="cases"] dd').first).to_have_text("154")  # 7 x 22
        expect(page.locator("#kpi-services tbody tr")).to_have_count(1)
        page.locator("#kpi-trend details summary").click()
        expect(page.locator("#kpi-trend details tbody tr").first).to_be_visible()
        assert_admin_accessible(page)
        # A bad range: a form error on the page.
        page.goto(f"{site}/admin/performance/?since=2026-02-01&until=2026-01-01")
        expect(page.locator("#kpi-form-errors")).to_be_visible()
        assert_admin_accessible(page)
    finally:
        context.close()

    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="ru-RU",
                                  is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        sign_in(page, site, kpis)
        page.goto(f"{site}/admin/performance/?period=7")
        cases = page.locator('[data-kpi="cases"] dd').first
        expect(cases).to_have_text(re.compile(r"^\d[\d\s]*$"))
        expect(page.locator('[data-kpi="take-up"] dd').first).to_have_text(re.compile(r"%$"))
        expect(page.locator("svg.dgbox-chart")).to_have_count(4)
        expect(page.locator("#kpi-channels table tbody tr")).to_have_count(4)
        expect(page.locator("#kpi-funnel table tbody tr")).to_have_count(4)
        assert_fits_the_phone(page)
        # The filter form is a plain GET form: it works without JavaScript.
        page.locator("#id_period").select_option("30")
        page.locator("form.dgbox-kpi-filters button[type=submit]").click()
        page.wait_for_url(re.compile(r"period=30"))
        expect(page.locator('[data-kpi="cases"] dd').first).to_have_text(re.compile(r"\d"))
    finally:
        context.close()

    context = browser.new_context(viewport=PHONE, locale="ru-RU", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        sign_in(page, site, kpis)
        page.goto(f"{site}/admin/performance/?period=7")
        expect(page.locator("svg.dgbox-chart")).to_have_count(4)
        assert_fits_the_phone(page)
        assert_admin_accessible(page)
    finally:
        context.close()
