"""A new tenant administrator's first sign-in (issue 13): invited by e-mail, they set a
password through the link, sign in and must add an authenticator app before the admin opens:
the QR page gives the key, the code typed is computed here from that key with django-otp (as
the phone would), the recovery codes are shown once, then the admin opens. Signing in again
asks for a code. axe-core finds no WCAG 2.2 A/AA violation on the second-factor pages."""

import re
import secrets
import time
from base64 import b32decode

import pytest
from django.core import mail
from django_otp.oath import totp
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from tenants import staff

pytestmark = pytest.mark.django_db
SIGN_IN = re.compile(r"^(Войти|Sign in)$")
CODE = re.compile(r"^Код")


@pytest.fixture
def _enforced(settings):
    settings.DGBOX_TWO_FACTOR_ENFORCED = True  # the live server runs in this process


@pytest.fixture(scope="module")
def invitation(browser_tenant, django_db_blocker):
    """The e-mail inviting a new administrator of the browser tenant (committed: made
    before the test's transaction, so the live server's threads see it)."""
    mail.outbox.clear()
    email = f"admin-{secrets.token_hex(3)}@lesnoy.example"
    with django_db_blocker.unblock(), tenant_context(browser_tenant):
        staff.invite_staff(email=email, first_name="Анна", last_name="Кузнецова",
                           role_codes=["administrator"])
    [message] = mail.outbox
    return {"email": email, "body": message.body}


def code_for(secret, steps_ahead=0):
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    return f"{totp(key, drift=steps_ahead):06d}"


def sign_in(page, site, email, password):
    page.goto(f"{site}/admin/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name=SIGN_IN).click()


def test_a_new_administrator_must_enrol_before_the_admin_opens(
        _enforced, site, phone, invitation, assert_admin_accessible, assert_fits_the_phone):
    link = re.search(r"http://lesnoy\.localhost\S+", invitation["body"]).group(0)
    port = site.rsplit(":", 1)[1]
    phone.goto(link.replace("lesnoy.localhost", f"lesnoy.localhost:{port}", 1))
    password = "лесная-поляна-" + secrets.token_hex(4)
    phone.locator("#id_new_password1").fill(password)
    phone.locator("#id_new_password2").fill(password)
    phone.locator("form [type=submit]").click()

    sign_in(phone, site, invitation["email"], password)
    phone.wait_for_url(re.compile(r"/admin/two-factor/add/"))
    expect(phone.get_by_role("heading", level=1)).to_have_text(
        "Подключить двухфакторную аутентификацию")
    expect(phone.locator(".dgbox-qr svg")).to_be_visible()
    assert_admin_accessible(phone)
    assert_fits_the_phone(phone)
    # Any admin page leads back here until an app is added.
    phone.goto(f"{site}/admin/pages/")
    phone.wait_for_url(re.compile(r"/admin/two-factor/add/"))

    secret = phone.locator("[data-totp-secret]").inner_text()
    phone.get_by_role("textbox", name=CODE).fill("000000")
    phone.get_by_role("button", name="Включить двухфакторную аутентификацию").click()
    expect(phone.locator(".w-field__errors")).to_contain_text("Код неверный")
    assert_admin_accessible(phone)
    time.sleep(1.1)  # django-otp makes the next try after a wrong code wait a second

    phone.get_by_role("textbox", name=CODE).fill(code_for(secret))
    phone.get_by_role("button", name="Включить двухфакторную аутентификацию").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Ваши резервные коды")
    expect(phone.locator("[data-recovery-codes] li")).to_have_count(10)
    assert_admin_accessible(phone)
    assert_fits_the_phone(phone)
    phone.get_by_role("link", name="Я сохранил(а) коды: продолжить").click()
    phone.wait_for_url(f"{site}/admin/pages/")

    # Signing in again: password, then a code (the app's next one: each is used once).
    phone.context.clear_cookies()
    sign_in(phone, site, invitation["email"], password)
    phone.wait_for_url(re.compile(r"/admin/two-factor/verify/"))
    expect(phone.get_by_role("heading", level=1)).to_have_text("Введите код")
    assert_admin_accessible(phone)
    phone.get_by_role("textbox", name=CODE).fill(code_for(secret, steps_ahead=1))
    phone.get_by_role("button", name="Продолжить").click()
    phone.wait_for_url(f"{site}/admin/")

    phone.goto(f"{site}/admin/two-factor/")
    expect(phone.locator("[data-remove-device]")).to_have_count(1)
    assert_admin_accessible(phone)
    # The first session (its cookie gone, not signed out) is still open: end it from here.
    phone.goto(f"{site}/admin/sessions/")
    expect(phone.locator("[data-sessions] tbody tr")).to_have_count(2)
    assert_admin_accessible(phone)
    phone.get_by_role("button", name="Завершить этот сеанс").click()
    expect(phone.locator("[data-sessions] tbody tr")).to_have_count(1)
    expect(phone.locator("[data-sessions]")).to_contain_text("этот браузер")
    assert_admin_accessible(phone)
