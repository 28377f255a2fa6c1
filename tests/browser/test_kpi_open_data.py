"""The public page "How we are doing" (/ru/how-we-are-doing/) on a phone: reached from the
footer, its charts and tables read at 360 px without sideways scrolling, axe-core finds no
WCAG 2.2 A/AA violation, and with JavaScript off the same figures are there (the tables open
as native <details>) with the CSV link working."""

import datetime
import re
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from services.kpis.public_page import last_complete_months

pytestmark = pytest.mark.django_db

PHONE = {"width": 360, "height": 740}  # the `phone` fixture's screen


@pytest.fixture(scope="module")
def kpis(server, browser_tenant, django_db_blocker):
    """Two months of the browser tenant's figures, committed: 3 applications by post in one
    (withheld, with that month's online share and the year's), none in the other. Deleted
    afterwards."""
    from services.kpis.models import KpiSnapshot

    first, last = last_complete_months(timezone.localdate())
    days = [last.replace(day=10), (first + datetime.timedelta(days=40)).replace(day=10)]
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        for day, online, post in zip(days, (120, 80), (3, 0), strict=True):
            KpiSnapshot.objects.create(
                day=day, computed_at=timezone.now(), cases_online=online, cases_office=30,
                cases_phone=0, cases_post=post, decided=50, decided_with_deadline=50,
                decided_on_time=40, decision_days={"3": 25, "11": 25}, feedback_useful=30,
                feedback_not_useful=10)
    connection.set_schema_to_public()
    yield days
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        KpiSnapshot.objects.filter(day__in=days, page__isnull=True).delete()
    connection.set_schema_to_public()


def test_how_we_are_doing_on_a_phone_with_and_without_javascript(
        site, phone, browser, kpis, check_step, assert_fits_the_phone):
    phone.goto(site + "/ru/")
    phone.locator('footer a[href="/ru/how-we-are-doing/"]').click()
    phone.wait_for_url("**/ru/how-we-are-doing/")
    expect(phone.get_by_role("heading", level=1)).to_have_count(1)
    charts = phone.locator("svg[role=img]")
    expect(charts).to_have_count(5)
    for i in range(5):
        assert charts.nth(i).get_attribute("aria-label")
    check_step(phone)
    phone.locator("details summary").click()  # the charts' figures as a table
    expect(phone.locator("#kpi-months")).to_be_visible()
    check_step(phone)

    context = browser.new_context(viewport=PHONE, java_script_enabled=False, locale="ru-RU")
    page = context.new_page()
    page.set_default_timeout(60_000)  # readiness bound on a loaded machine, not a speed check
    try:
        page.goto(site + "/ru/how-we-are-doing/")
        expect(page.locator("svg[role=img]")).to_have_count(5)
        page.locator("details summary").click()  # a native <details>: no script needed
        months = page.locator("#kpi-months tbody tr")
        expect(months).to_have_count(12)
        # The last month: 3 by post withheld, so is its online share; on time 40 of 50.
        cells = months.nth(11).locator("td")
        assert cells.nth(0).inner_text() not in ("", "–") and "%" not in cells.nth(0).inner_text()
        expect(cells.nth(1)).to_have_text("80%")
        expect(cells.nth(2)).to_have_text(re.compile(r"^3\b"))
        # The year by channel: 200 online, 60 at an office, 0 by phone, 3 by post withheld.
        channels = page.locator("#kpi-channels tbody td")
        expect(channels.nth(0)).to_have_text("200")
        expect(channels.nth(2)).to_have_text("0")
        assert channels.nth(3).inner_text() not in ("3", "0", "–")
        assert_fits_the_phone(page)
        href = page.locator("#kpi-csv").get_attribute("href")
        with page.expect_download() as download:
            page.locator("#kpi-csv").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        assert text.startswith("period,from,to,") and "format=csv" in href
    finally:
        context.close()
