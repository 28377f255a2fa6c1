"""A regional administrator on a phone signs in to the console, must add an authenticator app
first (TOTP, the code computed here from the key the page shows, as the phone would), signs
in again with a code, launches a municipality under their region (the form's problems first,
then success), opens the new tenant's archive page, and finds another region's tenant does
not exist for them (404); a national operator watches a running rollout's progress change
live and halts it. axe-core and the 360 px phone check on
every console page this adds."""

import re
import secrets
from base64 import b32decode

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_otp.oath import totp
from playwright.sync_api import expect

from tenants.models import RegionalAdministrator, Rollout, RolloutStep, Tenant

from ..factories import forget_console_user

pytestmark = pytest.mark.django_db
NEW_SLUG = "sosnovka-browser"


@pytest.fixture(scope="module")
def regional_admin(session_tenants, django_db_blocker):
    """The regional administrator of north, committed for the live server; the tenant the
    test launches is dropped afterwards."""
    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_user("north-head", "head@gov.example", password,
                                                    is_staff=True)
        RegionalAdministrator.objects.create(user=user, region=session_tenants["a"])
    yield {"username": user.username, "password": password}
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug=NEW_SLUG):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
            tenant.domains.all().delete()
            tenant.delete()
        forget_console_user(user)


def code_for(secret, steps_ahead=0):
    key = secret.replace(" ", "")
    return f"{totp(b32decode(key + '=' * (-len(key) % 8)), drift=steps_ahead):06d}"


def console_sign_in(phone, portal, account):
    phone.goto(f"{portal}/operator/login/")
    phone.locator("#id_username").fill(account["username"])
    phone.locator("#id_password").fill(account["password"])
    phone.locator("form button[type=submit]").click()


def test_regional_administrator_launches_a_municipality(server, phone, regional_admin,
                                                        settings, assert_accessible,
                                                        assert_fits_the_phone):
    settings.DGBOX_TWO_FACTOR_ENFORCED = True  # the live server runs in this process
    portal = f"http://localhost:{server}"
    console_sign_in(phone, portal, regional_admin)
    # Every console account needs a second factor: the console opens only after adding one.
    phone.wait_for_url(re.compile(r"/operator/two-factor/add/"))
    assert_accessible(phone)
    assert_fits_the_phone(phone)
    secret = phone.locator("[data-totp-secret]").inner_text()
    phone.locator("#id_code").fill(code_for(secret))
    phone.locator("form[data-two-factor-enrol] button[type=submit]").click()
    expect(phone.locator("[data-recovery-codes] li")).to_have_count(10)
    assert_accessible(phone)
    phone.locator("main a.govuk-button").click()
    # Signing in again: the password, then the app's next code (each is used once).
    phone.context.clear_cookies()
    console_sign_in(phone, portal, regional_admin)
    phone.wait_for_url(re.compile(r"/operator/two-factor/verify/"))
    assert_accessible(phone)
    phone.locator("#id_code").fill(code_for(secret, steps_ahead=1))
    phone.locator("main form button[type=submit]").click()
    expect(phone).to_have_url(f"{portal}/operator/")
    # Their region only.
    expect(phone.locator("main")).to_contain_text("Северная область")
    expect(phone.locator("main")).not_to_contain_text("Южная область")

    phone.locator("main a.govuk-button[href='/operator/launch/']").click()
    expect(phone).to_have_url(f"{portal}/operator/launch/")
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    # Problems first: no name, a taken web address name, a bad e-mail address.
    phone.locator("#id_slug").fill("south")
    phone.locator("#id_admin_email").fill("not an address")
    phone.locator("main form button[type=submit]").click()
    summary = phone.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("li")).to_have_count(3)
    expect(phone.locator("#id_slug-error")).to_contain_text("south")
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    phone.locator("#id_name").fill("Сосновка")
    phone.locator("#id_slug").fill(NEW_SLUG)
    phone.locator("#id_admin_email").fill("head@sosnovka.example")
    phone.locator("main form button[type=submit]").click()
    expect(phone).to_have_url(f"{portal}/operator/tenants/{NEW_SLUG}/")
    expect(phone.locator(".govuk-notification-banner").first).to_contain_text("Сосновка")
    expect(phone.locator("main")).to_contain_text("head@sosnovka.example")
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    phone.locator(f"a[href='/operator/tenants/{NEW_SLUG}/archive/']").click()
    expect(phone.locator("#id_confirm_slug")).to_be_visible()
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    # Another region's tenant does not exist for them.
    response = phone.goto(f"{portal}/operator/tenants/south/")
    assert response.status == 404
    response = phone.goto(f"{portal}/operator/rollouts/")
    assert response.status == 404
    assert re.search(r"/operator/", phone.url)


@pytest.fixture(scope="module")
def running_rollout(session_tenants, django_db_blocker):
    """A national operator and a running rollout of three tenants, committed; removed after."""
    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_superuser("live-ops", "live@gov.example",
                                                         password)
        rollout = Rollout.objects.create(release="2026.12.2", fingerprint="c" * 16,
                                         status=Rollout.Status.RUNNING)
        steps = [RolloutStep.objects.create(rollout=rollout, schema_name=f"live_{n}",
                                            slug=f"live-{n}", ring=1, status=status)
                 for n, status in enumerate(["done", "running", "pending"])]
    yield {"username": user.username, "password": password, "rollout": rollout,
           "steps": steps}
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        rollout.delete()
        forget_console_user(user)


def test_operator_watches_a_rollout_live_and_halts_it(server, phone, running_rollout,
                                                      django_db_blocker, in_thread,
                                                      assert_accessible,
                                                      assert_fits_the_phone):
    portal = f"http://localhost:{server}"
    rollout = running_rollout["rollout"]
    phone.goto(f"{portal}/operator/login/")
    phone.locator("#id_username").fill(running_rollout["username"])
    phone.locator("#id_password").fill(running_rollout["password"])
    phone.locator("form button[type=submit]").click()
    expect(phone).to_have_url(f"{portal}/operator/")

    phone.goto(f"{portal}/operator/rollouts/{rollout.pk}/")
    progress = phone.locator("#rollout-progress")
    expect(progress.locator("[data-progress-text]")).to_contain_text("1")
    expect(progress.locator("[data-progress-running]")).to_have_text("live-1")
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    # The rollout moves on (committed, as the runner commits): the page follows without
    # being reloaded by hand.
    def move_on():
        RolloutStep.objects.filter(pk=running_rollout["steps"][1].pk).update(status="done")
        RolloutStep.objects.filter(pk=running_rollout["steps"][2].pk).update(status="running")

    in_thread(move_on)
    expect(progress.locator("[data-progress-running]")).to_have_text("live-2", timeout=15_000)
    expect(progress.locator('[data-count="done"]')).to_have_text("2")

    phone.get_by_role("button", name=re.compile("Остановить развёртывание")).click()
    expect(phone.locator(".govuk-notification-banner")).to_be_visible()
    expect(phone.get_by_role("button", name=re.compile("Возобновить развёртывание"))
           ).to_be_visible()
    assert_accessible(phone)
    with django_db_blocker.unblock():
        rollout.refresh_from_db()
        assert rollout.halt_requested_at is not None
