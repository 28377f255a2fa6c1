"""The maturity assessment in the browser, on a 360 px phone: an administrator opens a round,
sees the radar chart and its table, answers a dimension of the questionnaire (a bad evidence
link is refused with the problem listed at the top, then corrected), sees the level in the
scores, and opens the printable report, printed with the print stylesheet; an operator
compares the tenant's approved result in the console on a phone. axe-core finds no WCAG 2.2
A/AA violation on any of them; the report and the console's page fit the phone."""

import secrets

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def assessor(browser_tenant, django_db_blocker):
    """An administrator of the browser tenant who reads the admin in Russian (committed)."""
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    from services.assessment.models import Round

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        Round.objects.all().delete()
        user = get_user_model().objects.create_superuser(
            "assessor", "assessor@lesnoy.example", password, first_name="Ольга",
            last_name="Оценщикова")
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = "ru"
        profile.save()
    return {"username": user.username, "password": password}


@pytest.fixture(scope="module")
def operator(browser_tenant, django_db_blocker):
    """A national operator, and an approved result of the browser tenant to compare
    (committed for the live server; removed afterwards)."""
    from django.utils import timezone

    from tenants.models import AssessmentResult

    from ..factories import console_account, forget_console_user

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock():
        user = console_account("assess-browser-op", password=password)
        result = AssessmentResult.objects.create(
            tenant=browser_tenant, schema_name=browser_tenant.schema_name, round_number=99,
            model_version=1, approved_at=timezone.now(), overall=2.5, indicators_total=19,
            indicators_assessed=8, dimensions=[
                {"code": f"d{n}", "title": {"en": f"Dimension {n}", "ru": f"Измерение {n}"},
                 "score": n % 5 + 1} for n in range(8)])
    yield {"username": user.username, "password": password}
    with django_db_blocker.unblock():
        result.delete()
        user.user_permissions.clear()  # its "Can view tenant", which forget_console_user keeps
        forget_console_user(user)


def test_questionnaire_scores_report_and_comparison_on_a_phone(
        site, server, phone, browser, assessor, operator, assert_admin_accessible,
        assert_accessible, assert_fits_the_phone):
    page = phone
    # Signed in on the way to the assessment: the sign-in page sends them on there.
    page.goto(f"{site}/admin/login/?next=/admin/assessment/")
    for field in ("username", "password"):
        page.locator(f"#id_{field}").fill(assessor[field])
    page.locator("form button[type=submit]").click()
    page.locator("[data-open-round]").click()
    page.wait_for_url(f"{site}/admin/assessment/*/")
    round_url = page.url
    radar = page.locator("[data-assessment-radar] svg[role=img]")
    expect(radar).to_be_visible()
    assert "Руководство и организация" in radar.get_attribute("aria-label")
    expect(page.locator("[data-assessment-scores] tr[data-dimension]")).to_have_count(8)
    assert_admin_accessible(page)

    page.goto(f"{round_url}leadership/")
    strategy = page.locator("[data-indicator='leadership.strategy']")
    strategy.locator("input[type=radio][value='3']").check()
    page.locator("#id_leadership-strategy-justification").fill(
        "Стратегия цифровой трансформации утверждена постановлением № 12")
    page.locator("#id_leadership-strategy-evidence").fill("не ссылка")
    page.locator("[data-questionnaire] button[name=save]").click()
    summary = page.locator("[data-form-errors]")
    expect(summary).to_be_visible()
    expect(summary.locator("a")).to_have_count(1)
    assert_admin_accessible(page)
    page.locator("#id_leadership-strategy-evidence").fill("https://lesnoy.example/стратегия")
    page.locator("[data-questionnaire] button[name=save]").click()
    page.wait_for_url(round_url)
    expect(page.locator("[data-assessment-scores] tr[data-indicator='leadership.strategy'] td")
           .first).to_have_text("3")
    expect(page.locator("[data-assessment-scores] tr[data-dimension='leadership'] td")
           .first).to_have_text("3,00")

    page.locator("[data-report-link]").click()
    page.wait_for_url(f"{round_url}report/")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("[data-report-scores] tbody tr")).to_have_count(9)  # 8 and overall
    expect(page.locator("[data-indicator='leadership.strategy']")).to_contain_text(
        "постановлением № 12")
    assert_fits_the_phone(page)
    assert_accessible(page)
    page.emulate_media(media="print")
    expect(page.locator(".screen-only")).to_be_hidden()
    expect(page.locator(".radar svg[role=img]")).to_be_visible()

    console = browser.new_context(viewport={"width": 360, "height": 740}, locale="ru-RU")
    page = console.new_page()
    page.set_default_timeout(60_000)
    portal = f"http://localhost:{server}"
    page.goto(f"{portal}/operator/login/?next=/operator/assessment/")
    for field in ("username", "password"):
        page.locator(f"#id_{field}").fill(operator[field])
    page.locator("form button[type=submit]").click()
    page.locator("[data-assessment-results] tr[data-tenant='lesnoy'] a").click()
    radar = page.locator("[data-console-radar] svg[role=img]")
    expect(radar).to_be_visible()
    assert "Измерение 0" in radar.get_attribute("aria-label")
    expect(page.locator("[data-selected-comparison] tbody tr")).to_have_count(8)
    assert_fits_the_phone(page)
    assert_accessible(page)
    console.close()
