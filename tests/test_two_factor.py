"""Two-factor authentication (issue 13): TOTP apps and single-use recovery codes through
django-otp, required of tenant administrators, of every operator-console account, and of all
of a tenant's staff when the tenant says so; enrolled, used and removed in the tenant's own
schema (operators' in the public schema)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import schema_context, tenant_context

from cms.models import SecuritySettings
from tenants.audit.models import AuditEvent, Kind
from tenants.console import operators
from tenants.staffauth import devices
from tenants.staffauth.policy import requires_two_factor

from .factories import (
    StaffFactory,
    admin_with_password,
    enrol_authenticator,
    forget_code_failures,
    totp_code,
)

pytestmark = pytest.mark.django_db
NORTH = {"HTTP_HOST": "north.localhost"}
BASE = {"HTTP_HOST": "localhost"}
PASSWORD = "rowan-berries-in-the-snow-42"


@pytest.fixture(autouse=True)
def _enforced(settings):
    settings.DGBOX_TWO_FACTOR_ENFORCED = True


@pytest.fixture
def admin_user(tenant_a):
    return admin_with_password(tenant_a, PASSWORD)


def sign_in(client, username=" admin@north.example", password=PASSWORD, host=NORTH):
    response = client.post("/admin/login/", {"username": username.strip(), "password": password,
                                              "next": "/admin/"}, **host)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def in_schema(schema, fn):
    with schema_context(schema):
        return fn()


def test_an_administrator_must_enrol_before_any_admin_page(client, tenant_a, tenant_b,
                                                           admin_user):
    sign_in(client)
    for path in ("/admin/", "/admin/pages/", "/admin/users/", "/admin/two-factor/verify/"):
        response = client.get(path, **NORTH)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/two-factor/add/?next="), path

    page = client.get("/admin/two-factor/add/?next=/admin/pages/", **NORTH)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "data-totp-secret" in html
    assert "<script" not in html.split("<main", 1)[1]  # the QR code is markup, not script
    secret = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", html).group(1).replace(" ", "")
    device = in_schema("north", lambda: TOTPDevice.objects.get(user=admin_user, confirmed=False))
    assert secret == devices.secret_text(device).replace(" ", "")

    wrong = client.post("/admin/two-factor/add/", {"code": "000000"}, **NORTH)
    assert wrong.status_code == 400 and client.get("/admin/", **NORTH).status_code == 302
    in_schema("north", lambda: forget_code_failures(admin_user))

    done = client.post("/admin/two-factor/add/?next=/admin/pages/",
                       {"code": totp_code(device), "next": "/admin/pages/"}, **NORTH)
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert 'href="/admin/pages/"' in done.content.decode()
    assert client.get("/admin/", **NORTH).status_code == 200

    # The device and the codes are in this tenant's schema only.
    assert in_schema("north", lambda: TOTPDevice.objects.filter(confirmed=True).count()) == 1
    assert in_schema("north", lambda: StaticToken.objects.count()) == 10
    assert in_schema(tenant_b.schema_name, lambda: TOTPDevice.objects.count()) == 0
    assert in_schema("public", lambda: TOTPDevice.objects.count()) == 0
    # The enrolment is in this tenant's audit trail (django-otp's devices saved, for real):
    # the app and the recovery codes, one row each, for this administrator.
    added = in_schema("north", lambda: sorted(AuditEvent.objects.filter(
        kind=Kind.TWO_FACTOR_ADDED).values_list("object_id", "details__device")))
    assert added == [(str(admin_user.pk), "otp_static.staticdevice"),
                     (str(admin_user.pk), "otp_totp.totpdevice")]
    assert in_schema(tenant_b.schema_name,
                     lambda: AuditEvent.objects.filter(kind=Kind.TWO_FACTOR_ADDED).count()) == 0


def test_signing_in_takes_a_code_after_the_password(client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        device, _codes = enrol_authenticator(admin_user)
    connection.set_schema_to_public()
    sign_in(client)
    response = client.get("/admin/pages/", **NORTH)
    assert response["Location"] == "/admin/two-factor/verify/?next=/admin/pages/"
    # The enrolment page is no way round it.
    assert client.get("/admin/two-factor/add/", **NORTH)["Location"].startswith(
        "/admin/two-factor/verify/")

    assert client.post("/admin/two-factor/verify/", {"code": "123456", "next": "/admin/pages/"},
                       **NORTH).status_code == 400
    with tenant_context(tenant_a):
        forget_code_failures(admin_user)
        device.refresh_from_db()
        code = totp_code(device)
    connection.set_schema_to_public()
    ok = client.post("/admin/two-factor/verify/", {"code": code, "next": "/admin/pages/"},
                     **NORTH)
    assert ok.status_code == 302 and ok["Location"] == "/admin/pages/"
    assert client.get("/admin/", **NORTH).status_code == 200

    # The same code a second time (another browser) is refused: a code is used once.
    other = client.__class__()
    sign_in(other)
    assert other.post("/admin/two-factor/verify/", {"code": code}, **NORTH).status_code == 400


def test_a_recovery_code_works_once(client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        _device, codes = enrol_authenticator(admin_user)
    connection.set_schema_to_public()
    sign_in(client)
    used = client.post("/admin/two-factor/verify/", {"code": codes[3].upper()}, **NORTH)
    assert used.status_code == 302
    assert client.get("/admin/", **NORTH).status_code == 200
    assert in_schema("north", lambda: StaticToken.objects.count()) == 9

    again = client.__class__()
    sign_in(again)
    assert again.post("/admin/two-factor/verify/", {"code": codes[3]}, **NORTH).status_code == 400
    in_schema("north", lambda: forget_code_failures(admin_user))
    assert again.get("/admin/", **NORTH).status_code == 302


def test_new_recovery_codes_replace_the_old_ones_after_the_password(client, tenant_a,
                                                                    admin_user):
    with tenant_context(tenant_a):
        _device, old = enrol_authenticator(admin_user)
    connection.set_schema_to_public()
    sign_in(client)
    client.post("/admin/two-factor/verify/", {"code": old[0]}, **NORTH)

    refused = client.post("/admin/two-factor/", {"action": "codes", "password": "wrong"},
                          **NORTH)
    assert refused.status_code == 400
    assert in_schema("north", lambda: set(StaticToken.objects.values_list("token", flat=True))
                     ) == set(old[1:])

    made = client.post("/admin/two-factor/", {"action": "codes", "password": PASSWORD}, **NORTH)
    assert made.status_code == 200
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", made.content.decode())
    assert len(new) == 10
    assert in_schema("north", lambda: set(StaticToken.objects.values_list("token", flat=True))
                     ) == set(new)
    other = client.__class__()
    sign_in(other)
    assert other.post("/admin/two-factor/verify/", {"code": old[1]}, **NORTH).status_code == 400
    in_schema("north", lambda: forget_code_failures(admin_user))
    assert other.post("/admin/two-factor/verify/", {"code": new[0]}, **NORTH).status_code == 302


def test_removing_the_app_asks_for_the_password_then_enrolment_is_due_again(
        client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        device, codes = enrol_authenticator(admin_user)
    connection.set_schema_to_public()
    sign_in(client)
    client.post("/admin/two-factor/verify/", {"code": codes[0]}, **NORTH)
    page = client.get("/admin/two-factor/", **NORTH)
    assert page.status_code == 200 and "data-remove-device" in page.content.decode()

    refused = client.post("/admin/two-factor/", {"action": "remove", "device": device.pk,
                                                 "password": "not-it"}, **NORTH)
    assert refused.status_code == 400
    assert in_schema("north", lambda: TOTPDevice.objects.filter(pk=device.pk).exists())

    removed = client.post("/admin/two-factor/", {"action": "remove", "device": device.pk,
                                                 "password": PASSWORD}, **NORTH)
    assert removed.status_code == 302
    assert not in_schema("north", lambda: TOTPDevice.objects.exists())
    assert in_schema("north", lambda: StaticToken.objects.count()) == 0
    # An administrator must have one: the next admin page is the enrolment page.
    assert client.get("/admin/", **NORTH)["Location"].startswith("/admin/two-factor/add/")


def test_another_users_device_cannot_be_removed(client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        someone = StaffFactory(is_staff=True)
        theirs, _ = enrol_authenticator(someone)
        enrol_authenticator(admin_user)
    connection.set_schema_to_public()
    sign_in(client)
    with tenant_context(tenant_a):
        code = StaticToken.objects.filter(device__user=admin_user).first().token
    connection.set_schema_to_public()
    client.post("/admin/two-factor/verify/", {"code": code}, **NORTH)
    response = client.post("/admin/two-factor/", {"action": "remove", "device": theirs.pk,
                                                  "password": PASSWORD}, **NORTH)
    assert response.status_code == 400
    assert in_schema("north", lambda: TOTPDevice.objects.filter(pk=theirs.pk).exists())


def test_a_tenant_can_require_two_factor_of_all_staff(client, tenant_a, tenant_b):
    with tenant_context(tenant_a):
        editor = StaffFactory(is_staff=True, groups=["Editors"])
        client.force_login(editor)
        assert not requires_two_factor(editor)
    connection.set_schema_to_public()
    assert client.get("/admin/", **NORTH).status_code == 200

    with tenant_context(tenant_a):
        settings_row = SecuritySettings.load()
        settings_row.require_two_factor_for_staff = True
        settings_row.save()
        assert requires_two_factor(editor)
    connection.set_schema_to_public()
    response = client.get("/admin/", **NORTH)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/two-factor/add/")
    # Tenant B's setting is its own.
    with tenant_context(tenant_b):
        assert SecuritySettings.load().require_two_factor_for_staff is False


def test_the_setting_is_in_the_admin_settings_menu(client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        enrol_authenticator(admin_user)
        code = StaticToken.objects.first().token
    connection.set_schema_to_public()
    sign_in(client)
    client.post("/admin/two-factor/verify/", {"code": code}, **NORTH)
    page = client.get("/admin/settings/cms/securitysettings/", follow=True, **NORTH)
    assert page.status_code == 200
    assert 'name="require_two_factor_for_staff"' in page.content.decode()


def test_operators_must_enrol_in_the_public_schema(client, tenant_a):
    user, _link = operators.add("ops@platform.example")
    user.set_password(PASSWORD)
    user.save()
    assert requires_two_factor(user)
    response = client.post("/operator/login/", {"username": "ops@platform.example",
                                                 "password": PASSWORD}, **BASE)
    assert response.status_code == 302
    home = client.get("/operator/", **BASE)
    assert home["Location"].startswith("/operator/two-factor/add/")
    page = client.get("/operator/two-factor/add/", **BASE)
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    done = client.post("/operator/two-factor/add/", {"code": totp_code(device)}, **BASE)
    assert done.status_code == 200 and "data-recovery-codes" in done.content.decode()
    assert client.get("/operator/", **BASE).status_code == 200
    # In the public schema, not in any tenant's.
    assert in_schema("north", lambda: TOTPDevice.objects.count()) == 0

    again = client.__class__()
    again.post("/operator/login/", {"username": "ops@platform.example", "password": PASSWORD},
               **BASE)
    assert again.get("/operator/", **BASE)["Location"].startswith("/operator/two-factor/verify/")


def test_who_must_use_a_second_factor(tenant_a):
    operator, _ = operators.add("ops2@platform.example")
    regional = get_user_model().objects.create_user("regional@platform.example", is_staff=True)
    assert requires_two_factor(operator) and requires_two_factor(regional)
    with tenant_context(tenant_a):
        admin = get_user_model().objects.get(email="admin@north.example")
        case_worker = StaffFactory(is_staff=True)
        assert requires_two_factor(admin)
        assert not requires_two_factor(case_worker)


def test_enrolment_and_removal_are_signalled(client, tenant_a, admin_user):
    seen = []

    def record(signal_name):
        return lambda sender, user, device, **kw: seen.append((signal_name, user.pk, device.pk))

    on_enrol, on_remove = record("enrolled"), record("removed")
    devices.two_factor_enrolled.connect(on_enrol)
    devices.two_factor_removed.connect(on_remove)
    try:
        sign_in(client)
        client.get("/admin/two-factor/add/", **NORTH)
        device = in_schema("north", lambda: TOTPDevice.objects.get(user=admin_user))
        client.post("/admin/two-factor/add/", {"code": totp_code(device)}, **NORTH)
        client.post("/admin/two-factor/", {"action": "remove", "device": device.pk,
                                           "password": PASSWORD}, **NORTH)
    finally:
        devices.two_factor_enrolled.disconnect(on_enrol)
        devices.two_factor_removed.disconnect(on_remove)
    assert seen == [("enrolled", admin_user.pk, device.pk), ("removed", admin_user.pk, device.pk)]
