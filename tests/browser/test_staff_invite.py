"""Inviting a member of staff through the real screens (issue 12): the tenant's administrator
opens Settings → Invite staff member, sends the form empty and is told what is missing, then
invites a case worker; the invited person follows the e-mailed link, sets a password, signs in
and finds Cases. axe-core finds no WCAG 2.2 A/AA violations on the invitation screens."""

import re
import secrets

import pytest
from django.core import mail
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

DESK = {"width": 1280, "height": 900}
SIGN_IN = re.compile(r"^(Войти|Sign in)$")

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def administrator(browser_tenant, django_db_blocker):
    """An administrator of the browser tenant with a password, reading the admin in Russian
    (committed for the live server)."""
    from django.contrib.auth import get_user_model
    from wagtail.users.models import UserProfile

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        user = get_user_model().objects.create_superuser(
            "svetlana@lesnoy.example", "svetlana@lesnoy.example", password,
            first_name="Светлана", last_name="Орлова")
        profile = UserProfile.get_for_user(user)
        profile.preferred_language = "ru"
        profile.save()
    return {"username": user.username, "password": password}


def sign_in(page, site, username, password):
    page.goto(f"{site}/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name=SIGN_IN).click()
    page.wait_for_url(f"{site}/admin/")


def test_an_administrator_invites_a_case_worker_who_then_signs_in(site, browser, administrator,
                                                                  assert_admin_accessible):
    desk = browser.new_context(viewport=DESK, locale="ru-RU").new_page()
    desk.set_default_timeout(60_000)
    mail.outbox.clear()
    sign_in(desk, site, administrator["username"], administrator["password"])
    desk.goto(f"{site}/admin/staff/invite/")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Пригласить сотрудника")
    assert_admin_accessible(desk)

    # Sent empty: every problem is listed, and each is said beside its field.
    desk.get_by_role("button", name="Отправить приглашение").click()
    summary = desk.locator("[data-invite-errors]")
    expect(summary).to_contain_text("Введите адрес электронной почты сотрудника.")
    expect(summary).to_contain_text("Выберите хотя бы одну роль из списка.")
    assert_admin_accessible(desk)

    desk.locator("#id_email").fill("pavel@lesnoy.example")
    desk.locator("#id_first_name").fill("Павел")
    desk.locator("#id_last_name").fill("Соколов")
    desk.get_by_label("Специалист по заявлениям").check()
    desk.get_by_role("button", name="Отправить приглашение").click()
    desk.wait_for_url(f"{site}/admin/users/")
    expect(desk.locator(".messages .success")).to_contain_text("pavel@lesnoy.example")
    expect(desk.get_by_text("Павел Соколов")).to_be_visible()
    assert_admin_accessible(desk)
    desk.context.close()

    [invitation] = [m for m in mail.outbox if m.to == ["pavel@lesnoy.example"]]
    link = re.search(r"http://lesnoy\.localhost\S+", invitation.body).group(0)
    port = site.rsplit(":", 1)[1]
    link = link.replace("lesnoy.localhost", f"lesnoy.localhost:{port}", 1)  # the test server
    pavel = browser.new_context(viewport=DESK, locale="ru-RU").new_page()
    pavel.set_default_timeout(60_000)
    pavel.goto(link)
    password = "сосновый-бор-" + secrets.token_hex(4)
    pavel.locator("#id_new_password1").fill(password)
    pavel.locator("#id_new_password2").fill(password)
    pavel.locator("form [type=submit]").click()
    sign_in(pavel, site, "pavel@lesnoy.example", password)
    pavel.get_by_role("link", name="Заявления", exact=True).click()
    pavel.wait_for_url(f"{site}/admin/cases/")
    pavel.context.close()
