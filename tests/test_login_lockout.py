"""Sign-in lockout (django-axes) on every staff sign-in form: a tenant's Wagtail admin and the
operator console. Counted per account and per client address, in the schema of the site
signed in to: a lockout on tenant A locks nobody on tenant B or the console. While locked,
even the right password is refused, with an accessible page (429, Retry-After). Administrators
unlock: in the tenant's admin (Settings -> Sign-in lockouts) or with `dgbox lockout`."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from tenants import lockouts
from tenants.audit.models import AuditEvent, Kind

from .factories import NORTH, SOUTH, StaffFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a long staff password 2026"
LOGIN = "/admin/login/"
PORTAL = {"HTTP_HOST": "localhost"}


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 3


def staff(tenant, username="clerk", **kwargs):
    with tenant_context(tenant):
        user = StaffFactory(username=username, password=PASSWORD, is_staff=True, **kwargs)
        user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    connection.set_schema_to_public()
    return user


def sign_in(client, username, password, host=NORTH, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **host, **extra)


def signed_in(response):
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_an_account_is_locked_after_the_failure_limit_even_for_the_right_password(tenant_a):
    staff(tenant_a)
    client = Client()
    # From different addresses: the account's count, not the address's, locks it.
    failures = [sign_in(client, "clerk", "wrong", REMOTE_ADDR=f"192.0.2.{n}").status_code
                for n in range(3)]
    assert failures == [200, 200, 429]
    locked = sign_in(client, "clerk", PASSWORD, REMOTE_ADDR="192.0.2.77")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60 and "no-store" in locked["Cache-Control"]
    page = locked.content.decode()
    assert 'lang="ru"' in page and "<h1" in page and 'href="/admin/login/"' in page
    assert locked["X-Request-ID"] in page.replace("<wbr>", "")  # the incident reference
    assert "_auth_user_id" not in client.session
    with tenant_context(tenant_a):
        assert [(lo.kind, lo.value) for lo in lockouts.lockouts()
                if lo.kind == "account"] == [("account", "clerk")]


def test_an_address_is_locked_after_failures_on_many_accounts(tenant_a):
    staff(tenant_a, "victim")
    client = Client()
    guesses = [sign_in(client, f"guess{n}", "wrong", REMOTE_ADDR="192.0.2.9").status_code
               for n in range(3)]
    assert guesses == [200, 200, 429]
    assert sign_in(client, "victim", PASSWORD, REMOTE_ADDR="192.0.2.9").status_code == 429
    # The account itself is not locked: its owner signs in from elsewhere.
    assert signed_in(sign_in(Client(), "victim", PASSWORD, REMOTE_ADDR="198.51.100.4"))


def test_a_lockout_on_one_tenant_locks_nobody_on_another(tenant_a, tenant_b):
    staff(tenant_a)
    staff(tenant_b)
    for _ in range(3):
        sign_in(Client(), "clerk", "wrong", REMOTE_ADDR="192.0.2.1")
    assert sign_in(Client(), "clerk", PASSWORD, REMOTE_ADDR="192.0.2.1").status_code == 429
    # Same username, same address, another tenant: its own schema, its own count.
    assert signed_in(sign_in(Client(), "clerk", PASSWORD, host=SOUTH, REMOTE_ADDR="192.0.2.1"))
    with tenant_context(tenant_b):
        assert lockouts.lockouts() == []


def test_a_forged_forwarded_header_neither_bypasses_nor_spends(tenant_a, settings):
    settings.DGBOX_TRUSTED_PROXIES = 1
    staff(tenant_a, "victim")
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker, victim = "203.0.113.66", "198.51.100.20"
    # A fresh forged entry on every guess, the last naming the victim's address.
    forged = [f"192.0.2.{n}, {attacker}" for n in range(2)] + [f"{victim}, {attacker}"]
    assert [sign_in(Client(), f"guess{n}", "wrong", HTTP_X_FORWARDED_FOR=header,
                    **proxy).status_code for n, header in enumerate(forged)] == [200, 200, 429]
    assert sign_in(Client(), "guess9", "wrong", HTTP_X_FORWARDED_FOR=f"1.2.3.4, {attacker}",
                   **proxy).status_code == 429  # still locked, whatever it writes
    # The victim, behind the same proxy, was neither locked nor charged.
    assert signed_in(sign_in(Client(), "victim", PASSWORD, HTTP_X_FORWARDED_FOR=victim,
                             **proxy))
    with tenant_context(tenant_a):
        assert [lo.value for lo in lockouts.lockouts()] == [attacker]


def test_a_tenant_administrator_unlocks_in_the_admin(tenant_a):
    staff(tenant_a)
    for _ in range(3):
        sign_in(Client(), "clerk", "wrong", REMOTE_ADDR="192.0.2.1")
    client = Client()
    with tenant_context(tenant_a):
        client.force_login(get_user_model().objects.get(email="admin@north.example"))
    connection.set_schema_to_public()
    page = client.get("/admin/lockouts/", **NORTH)
    assert page.status_code == 200 and "clerk" in page.content.decode()
    done = client.post("/admin/lockouts/", {"kind": "account", "value": "clerk"}, **NORTH)
    assert done.status_code == 302
    client.post("/admin/lockouts/", {"kind": "address", "value": "192.0.2.1"}, **NORTH)
    assert signed_in(sign_in(Client(), "clerk", PASSWORD, REMOTE_ADDR="192.0.2.1"))


def test_staff_without_the_permission_cannot_see_or_lift_lockouts(tenant_a):
    clerk = staff(tenant_a)
    client = Client()
    with tenant_context(tenant_a):
        client.force_login(clerk)
    connection.set_schema_to_public()
    assert client.get("/admin/lockouts/", **NORTH).status_code in (302, 403)
    assert client.post("/admin/lockouts/", {"kind": "account", "value": "x"},
                       **NORTH).status_code in (302, 403)


def test_operators_unlock_with_the_cli_on_any_site(tenant_a):
    staff(tenant_a)
    for _ in range(3):
        sign_in(Client(), "clerk", "wrong", REMOTE_ADDR="192.0.2.1")
    out = io.StringIO()
    call_command("lockout", "list", "--tenant", "north", stdout=out)
    assert "clerk" in out.getvalue() and "192.0.2.1" in out.getvalue()
    call_command("lockout", "unlock", "--tenant", "north", "--username", "clerk",
                 "--address", "192.0.2.1", stdout=out)
    assert "Unlocked clerk and 192.0.2.1 on tenant north" in out.getvalue()
    assert signed_in(sign_in(Client(), "clerk", PASSWORD, REMOTE_ADDR="192.0.2.1"))


def test_the_operator_console_locks_and_unlocks_in_the_public_schema(tenant_a):
    get_user_model().objects.create_user("operator", "op@gov.example", PASSWORD,
                                         is_staff=True).user_permissions.add(
        Permission.objects.get(codename="view_tenant", content_type__app_label="tenants"))
    staff(tenant_a, "operator")  # same username on a tenant: not affected
    codes = [Client().post("/operator/login/", {"username": "operator", "password": "wrong"},
                           REMOTE_ADDR=f"192.0.2.{n}", **PORTAL).status_code for n in range(3)]
    assert codes == [200, 200, 429]
    locked = Client().post("/operator/login/", {"username": "operator", "password": PASSWORD},
                           REMOTE_ADDR="198.51.100.8", **PORTAL)
    assert locked.status_code == 429 and 'href="/operator/login/"' in locked.content.decode()
    assert signed_in(sign_in(Client(), "operator", PASSWORD, REMOTE_ADDR="198.51.100.8"))
    out = io.StringIO()
    call_command("lockout", "unlock", "--username", "operator", stdout=out)
    assert "on the operator console" in out.getvalue()
    ok = Client().post("/operator/login/", {"username": "operator", "password": PASSWORD},
                       REMOTE_ADDR="198.51.100.8", **PORTAL)
    assert ok.status_code == 302 and ok["Location"] == "/operator/"


def test_the_cli_says_what_is_wrong():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Say what to unlock"):
        call_command("lockout", "unlock")
    with pytest.raises(CommandError, match="No tenant 'nowhere'"):
        call_command("lockout", "list", "--tenant", "nowhere")


def test_a_lockout_is_in_the_tenants_audit_trail(tenant_a, tenant_b):
    """django-axes' own lockout (not a direct call) leaves one audit row, in the schema of the
    site signed in to only."""
    staff(tenant_a)
    client = Client()
    for n in range(3):
        sign_in(client, "clerk", "wrong", REMOTE_ADDR=f"192.0.2.{n}")
    with tenant_context(tenant_a):
        locked = list(AuditEvent.objects.filter(kind=Kind.LOCKED_OUT))
    with tenant_context(tenant_b):
        elsewhere = AuditEvent.objects.filter(kind=Kind.LOCKED_OUT).count()
    assert len(locked) == 1 and elsewhere == 0
