"""A central operator on a phone signs in to the console on the base domain, sees every tenant
with its usage, opens one tenant and a halted rollout with the failing tenant's error, and
signs out; axe-core finds no WCAG 2.2 A/AA violations and nothing overflows the screen."""

import re
import secrets

import pytest
from django.utils import timezone
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def console_data(browser_tenant, django_db_blocker):
    """An operator, a day of usage for the browser tenant and a halted rollout, committed for
    the live server and removed afterwards."""
    from django.contrib.auth import get_user_model

    from tenants import metering
    from tenants.models import Rollout, RolloutStep, UsageRecord

    password = secrets.token_urlsafe(12)
    with django_db_blocker.unblock():
        user = get_user_model().objects.create_superuser("ops", "ops@gov.example", password)
        record = UsageRecord.objects.create(
            tenant=browser_tenant, schema_name=browser_tenant.schema_name,
            day=metering.platform_today(), api_calls=321, cases_new=4, notifications_sent=6,
            sms_sent=1, cases_total=17, cases_open=5, storage_objects=3,
            storage_bytes=5 * 1024 * 1024, media_bytes=1024, collected_at=timezone.now())
        rollout = Rollout.objects.create(release="2026.12.1", fingerprint="b" * 16,
                                         status=Rollout.Status.HALTED,
                                         halt_reason="ring 1: 1 of 1 tenants failed")
        RolloutStep.objects.create(rollout=rollout, tenant=browser_tenant,
                                   schema_name=browser_tenant.schema_name,
                                   slug=browser_tenant.slug, ring=1, status="failed",
                                   error='column "x" of relation "y" already exists')
    yield {"username": user.username, "password": password, "rollout": rollout.pk}
    with django_db_blocker.unblock():
        rollout.delete()
        record.delete()
        # Not user.delete(): its cascade looks for Wagtail's user profiles, which live in
        # tenant schemas only.
        type(user).objects.filter(pk=user.pk)._raw_delete(using="default")


def test_operator_reads_the_fleet_on_a_phone(server, phone, console_data, browser_tenant,
                                             assert_accessible, assert_fits_the_phone):
    portal = f"http://localhost:{server}"
    phone.goto(f"{portal}/operator/")
    expect(phone).to_have_url(re.compile(r"/operator/login/\?next=/operator/$"))
    assert_accessible(phone)
    phone.locator("#id_username").fill(console_data["username"])
    phone.locator("#id_password").fill("not the password")
    phone.locator("form button[type=submit]").click()
    expect(phone.locator(".govuk-error-summary")).to_be_visible()
    assert_accessible(phone)
    phone.locator("#id_password").fill(console_data["password"])
    phone.locator("form button[type=submit]").click()
    expect(phone).to_have_url(f"{portal}/operator/")

    row = phone.locator("tbody tr", has_text=browser_tenant.name)
    expect(row).to_contain_text("5 / 17")
    expect(row).to_contain_text("321")
    expect(phone.locator("svg[role=img]")).to_have_count(3)
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    row.get_by_role("link", name=browser_tenant.name).click()
    expect(phone.get_by_role("heading", level=1)).to_contain_text(browser_tenant.name)
    expect(phone.locator("main")).to_contain_text("already exists")
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    phone.goto(f"{portal}/operator/rollouts/{console_data['rollout']}/?status=failed")
    expect(phone.locator("main")).to_contain_text("ring 1: 1 of 1 tenants failed")
    expect(phone.locator("tbody tr")).to_have_count(1)
    assert_accessible(phone)
    assert_fits_the_phone(phone)

    phone.locator("nav form button[type=submit]").click()  # sign out
    expect(phone).to_have_url(re.compile(r"/operator/login/"))
    phone.goto(f"{portal}/operator/")
    expect(phone).to_have_url(re.compile(r"/operator/login/"))


def test_citizen_finds_their_municipality_on_the_national_portal(server, phone, browser_tenant,
                                                                 assert_accessible,
                                                                 assert_fits_the_phone):
    """The national portal on a phone: the list, a search typed in lower case Cyrillic that
    finds the municipality, and a search that finds nothing, each accessible and fitting."""
    portal = f"http://localhost:{server}"
    phone.goto(f"{portal}/")
    expect(phone.get_by_role("link", name=browser_tenant.name).first).to_be_visible()
    assert_accessible(phone)
    assert_fits_the_phone(phone)
    phone.locator("#portal-search").fill("лесн")
    phone.locator("form[role=search] button[type=submit]").click()
    expect(phone).to_have_url(re.compile(r"\?q="))
    expect(phone.get_by_role("link", name=browser_tenant.name)).to_be_visible()
    assert_accessible(phone)
    phone.locator("#portal-search").fill("Нет такого места")
    phone.locator("form[role=search] button[type=submit]").click()
    expect(phone.locator("main")).to_contain_text("Нет такого места")
    expect(phone.get_by_role("link", name=browser_tenant.name)).to_have_count(0)
    assert_accessible(phone)
    assert_fits_the_phone(phone)
