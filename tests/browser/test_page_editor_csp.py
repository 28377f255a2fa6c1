"""The Wagtail page editor under the Content-Security-Policy (issue 13): an administrator signs
in, opens a service page in the editor (StreamField, inline panels, choosers, the settings
tab's date inputs, whose scripts run as the page loads), adds a StreamField block, opens the
preview and a chooser. The browser conftest fails the test on any CSP violation on the way
(`_no_csp_violations`); the other journeys (citizen, apply, track, inbox, case, console) are
checked the same way in their own tests."""

import re
import secrets

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

DESK = {"width": 1280, "height": 900}
SIGN_IN = re.compile(r"^(Войти|Sign in)$")

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def page_editor(browser_tenant, django_db_blocker):
    """A superuser of the browser tenant reading the admin in Russian, and a service page
    (committed for the live server)."""
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    from cms.models import ServicePage

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        user = get_user_model().objects.create_superuser(
            "marina@lesnoy.example", "marina@lesnoy.example", password, first_name="Марина")
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = "ru"
        profile.save()
        page = ServicePage.objects.live().first()
    return {"username": user.username, "password": password, "page": page.pk}


def test_the_page_editor_works_under_the_policy(site, browser, page_editor):
    desk = browser.new_context(viewport=DESK, locale="ru-RU").new_page()
    desk.set_default_timeout(60_000)
    desk.goto(f"{site}/admin/login/")
    desk.locator("#id_username").fill(page_editor["username"])
    desk.locator("#id_password").fill(page_editor["password"])
    desk.get_by_role("button", name=SIGN_IN).click()
    desk.wait_for_url(f"{site}/admin/")

    desk.goto(f"{site}/admin/pages/{page_editor['page']}/edit/")
    expect(desk.locator("form#page-edit-form")).to_be_visible()
    # Scripts ran: Wagtail's StreamField is drawn by JavaScript (telepath).
    add = desk.locator("button.c-sf-add-button").first
    expect(add).to_be_visible()
    blocks_before = desk.locator("[data-streamfield-child]").count()
    add.click()
    # A StreamField with several block types asks which one; with one it adds it at once.
    option = desk.locator("[role=option]").first
    try:
        option.wait_for(state="visible", timeout=3_000)
        option.click()
    except PlaywrightTimeout:
        pass
    expect(desk.locator("[data-streamfield-child]")).to_have_count(blocks_before + 1)

    # The preview: an iframe of the editor (frame-ancestors 'self' for it alone).
    desk.locator('[data-side-panel-toggle="preview"]').click()
    # Wagtail loads each preview into a second iframe, then swaps it in: read the newest.
    frame = desk.locator("iframe.w-preview__iframe").last.content_frame
    expect(frame.locator("h1").first).to_be_visible()

    # A chooser modal (its HTML and script come from the server).
    chooser = desk.locator("button[data-chooser-action-choose]").first
    if chooser.count():
        chooser.click()
        expect(desk.locator(".modal-content, [role=dialog]").first).to_be_visible()
        desk.keyboard.press("Escape")

    desk.context.close()
