"""Who may do what in the operator console (issue 13), as a full matrix: every role against
every console page and action, with the status each must get.

Roles: anonymous; a national operator; the regional administrator of "north" (north and its
municipality ryabinovka); the regional administrator of "south"; a tenant's own administrator
(signed in on north's admin: no account in the public schema); a public-schema account with
no console role. Tenants outside a regional administrator's region, and the rollouts, are 404
for them, never 403.
"""


import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from tenants.models import Rollout, Tenant

from .factories import console_account, console_sign_in

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}

ROLES = ["anonymous", "operator", "north_admin", "south_admin", "tenant_staff", "no_role"]
LOGIN = 302  # to the console's sign-in page


# (name, method, path template, data, expected(role))
TENANT_PAGES = [
    ("tenant page", "get", "/operator/tenants/{slug}/", {}, (200,)),
    *[(f"{action} page", "get", f"/operator/tenants/{{slug}}/{action}/", {}, (200,))
      for action in ("suspend", "resume", "archive", "backup", "resend-invitation",
                     "revoke-invitation")],
    ("suspend", "post", "/operator/tenants/{slug}/suspend/", {}, (302,)),
    ("resume (not suspended)", "post", "/operator/tenants/{slug}/resume/", {}, (302,)),
    ("archive without confirmation", "post", "/operator/tenants/{slug}/archive/", {}, (400,)),
    ("archive", "post", "/operator/tenants/{slug}/archive/", {"confirm_slug": "{slug}"},
     (302,)),
    ("re-send invitation", "post", "/operator/tenants/{slug}/resend-invitation/", {}, (302,)),
    ("revoke invitation", "post", "/operator/tenants/{slug}/revoke-invitation/", {}, (302,)),
    ("unknown action", "get", "/operator/tenants/{slug}/explode/", {}, (404,)),
]
TARGETS = ["north", "ryabinovka", "south"]


@pytest.fixture
def as_role(client, session_tenants):
    """A client signed in as `role` (password just checked, as after signing in)."""

    def sign_in(role):
        north, south = session_tenants["a"], session_tenants["b"]
        user = None
        if role == "operator":
            user = console_account("op")
        elif role == "north_admin":
            user = console_account("north-regional", region=north)
        elif role == "south_admin":
            user = console_account("south-regional", region=south)
        elif role == "no_role":
            user = get_user_model().objects.create_user("clerk", "c@gov.example", "x" * 16,
                                                        is_staff=True)
        elif role == "tenant_staff":
            with tenant_context(north):
                client.force_login(get_user_model().objects.get(email="admin@north.example"))
            connection.set_schema_to_public()
        if user is not None:
            console_sign_in(client, user)
        return client

    return sign_in


def _call(client, method, path, data):
    return getattr(client, method)(path, data, **PORTAL)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("name", "method", "path", "data", "ok"), TENANT_PAGES,
                         ids=[p[0] for p in TENANT_PAGES])
def test_tenant_pages_and_actions(as_role, role, target, name, method, path, data, ok):
    client = as_role(role)
    in_north = target in ("north", "ryabinovka")
    own = ok[0]
    expected = {"anonymous": LOGIN, "tenant_staff": LOGIN, "no_role": 403, "operator": own,
                "north_admin": own if in_north else 404,
                "south_admin": 404 if in_north else own}[role]
    data = {k: v.format(slug=target) for k, v in data.items()}
    response = _call(client, method, path.format(slug=target), data)
    assert response.status_code == expected, (role, target, name, response.status_code)
    if role in ("anonymous", "tenant_staff"):
        assert response["Location"].startswith("/operator/login/")
    if expected == 404 or role in ("anonymous", "tenant_staff", "no_role"):
        # Nothing changed for those who may not act.
        assert Tenant.objects.get(slug=target).status == Tenant.Status.ACTIVE


FLEET_PAGES = [
    # name, method, path, data, operator, regional administrators
    ("home", "get", "/operator/", {}, 200, 200),
    ("usage CSV", "get", "/operator/usage.csv", {}, 200, 200),
    ("launch form", "get", "/operator/launch/", {}, 200, 200),
    ("launch with problems", "post", "/operator/launch/", {"name": "", "parent": "south"},
     400, 400),
    ("rollouts", "get", "/operator/rollouts/", {}, 200, 404),
    ("rollout", "get", "/operator/rollouts/{rollout}/", {}, 200, 404),
    ("rollout progress", "get", "/operator/rollouts/{rollout}/progress.json", {}, 200, 404),
    ("halt rollout", "post", "/operator/rollouts/{rollout}/halt/", {}, 302, 404),
    ("resume rollout", "post", "/operator/rollouts/{rollout}/resume/", {}, 302, 404),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "path", "data", "operator", "regional"),
                         FLEET_PAGES, ids=[p[0] for p in FLEET_PAGES])
def test_fleet_pages(as_role, role, name, method, path, data, operator, regional):
    rollout = Rollout.objects.create(release="r", fingerprint="f",
                                     status=Rollout.Status.RUNNING)
    client = as_role(role)
    expected = {"anonymous": LOGIN, "tenant_staff": LOGIN, "no_role": 403,
                "operator": operator, "north_admin": regional, "south_admin": regional}[role]
    response = _call(client, method, path.format(rollout=rollout.pk), data)
    assert response.status_code == expected, (role, name, response.status_code)
    if method == "post" and expected != 302:
        rollout.refresh_from_db()
        assert rollout.halt_requested_at is None


def test_get_cannot_change_anything(as_role, tenant_a):
    """Actions change state on POST only: a GET shows the confirmation page."""
    client = as_role("operator")
    assert client.get("/operator/tenants/north/suspend/", **PORTAL).status_code == 200
    assert Tenant.objects.get(slug="north").status == Tenant.Status.ACTIVE
    rollout = Rollout.objects.create(release="r", fingerprint="f")
    assert client.get(f"/operator/rollouts/{rollout.pk}/halt/", **PORTAL).status_code == 405


def test_regional_home_lists_only_the_region(as_role, session_tenants):
    response = as_role("north_admin").get("/operator/", **PORTAL)
    slugs = {row["tenant"].slug for row in response.context["rows"]}
    assert slugs == {"north", "ryabinovka"}
    body = response.content.decode()
    assert "Южная область" not in body and "/operator/rollouts/" not in body
    csv = as_role("south_admin").get("/operator/usage.csv", **PORTAL)
    assert csv.status_code == 200
    operator_rows = {row["tenant"].slug
                     for row in as_role("operator").get("/operator/", **PORTAL)
                     .context["rows"]}
    assert {"north", "ryabinovka", "south"} <= operator_rows


def test_post_without_csrf_token_is_refused(session_tenants):
    user = console_account("csrf-op")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/operator/tenants/north/resume/", **PORTAL)
    assert response.status_code == 403
    assert Tenant.objects.get(slug="north").status == Tenant.Status.ACTIVE
