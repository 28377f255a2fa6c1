"""Staff and operator sessions (issue 13): idle timeout and absolute lifetime for signed-in
sessions only (citizens' drafts are untouched), sign-out ends the session on the server, staff
see and end their other sessions; passwords of at least 12 characters and not common wherever
staff or operators set one; the reset link goes to the tenant's own host."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context, tenant_context
from qsessions.models import Session

from tenants.console import operators
from tenants.staffauth.middleware import SEEN_AT, SIGNED_IN_AT
from tenants.staffauth.sessions import ref

from .factories import admin_with_password

pytestmark = pytest.mark.django_db
NORTH = {"HTTP_HOST": "north.localhost"}
BASE = {"HTTP_HOST": "localhost"}
PASSWORD = "rowan-berries-in-the-snow-42"


@pytest.fixture
def admin_user(tenant_a):
    return admin_with_password(tenant_a, PASSWORD)


def sign_in(client, host=NORTH, username="admin@north.example", path="/admin/login/"):
    response = client.post(path, {"username": username, "password": PASSWORD}, **host,
                           HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
    assert response.status_code == 302, response.content.decode()[:1000]


def shift_session(client, schema, **seconds_ago):
    """Move the session's sign-in and last-activity times into the past."""
    with schema_context(schema):
        session = client.session
        for key, ago in seconds_ago.items():
            session[{"signed_in": SIGNED_IN_AT, "seen": SEEN_AT}[key]] = time.time() - ago
        session.save()


def session_exists(schema, key):
    with schema_context(schema):
        return Session.objects.filter(session_key=key).exists()


def test_an_idle_staff_session_ends_after_30_minutes(client, tenant_a, admin_user, settings):
    assert settings.DGBOX_STAFF_IDLE_MINUTES == 30
    sign_in(client)
    assert client.get("/admin/", **NORTH).status_code == 200
    key = client.cookies["sessionid"].value

    shift_session(client, "north", seen=29 * 60)
    assert client.get("/admin/", **NORTH).status_code == 200  # still in time, and refreshed
    with schema_context("north"):
        assert time.time() - client.session[SEEN_AT] < 60

    shift_session(client, "north", seen=31 * 60)
    response = client.get("/admin/", **NORTH)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not session_exists("north", key)  # ended on the server, not only forgotten


def test_a_staff_session_lasts_12_hours_at_most(client, tenant_a, admin_user, settings):
    assert settings.DGBOX_STAFF_SESSION_HOURS == 12
    sign_in(client)
    shift_session(client, "north", signed_in=11 * 3600, seen=10)
    assert client.get("/admin/", **NORTH).status_code == 200
    shift_session(client, "north", signed_in=12 * 3600 + 5, seen=10)
    response = client.get("/admin/", **NORTH)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_limits_are_settings(client, tenant_a, admin_user, settings):
    settings.DGBOX_STAFF_IDLE_MINUTES = 5
    sign_in(client)
    shift_session(client, "north", seen=6 * 60)
    assert client.get("/admin/", **NORTH).status_code == 302


def test_operator_sessions_have_the_same_limits(client, tenant_a):
    user, _ = operators.add("ops@platform.example")
    user.set_password(PASSWORD)
    user.save()
    sign_in(client, BASE, "ops@platform.example", "/operator/login/")
    assert client.get("/operator/", **BASE).status_code == 200
    shift_session(client, "public", seen=31 * 60)
    response = client.get("/operator/", **BASE)
    assert response.status_code == 302 and response["Location"].startswith("/operator/login/")


def test_a_citizens_session_is_not_timed_out(client, tenant_a):
    """A citizen's session (application drafts, tracking) is anonymous: no limits apply."""
    client.get("/ru/", **NORTH)
    with schema_context("north"):
        session = client.session
        session["drafts"] = {"1": "kept"}
        session[SEEN_AT] = time.time() - 3 * 24 * 3600
        session[SIGNED_IN_AT] = time.time() - 3 * 24 * 3600
        session.save()
    client.get("/ru/", **NORTH)
    with schema_context("north"):
        assert client.session["drafts"] == {"1": "kept"}


def test_signing_out_ends_the_session_on_the_server(client, tenant_a, admin_user):
    sign_in(client)
    key = client.cookies["sessionid"].value
    assert session_exists("north", key)
    assert client.post("/admin/logout/", **NORTH).status_code == 302
    assert not session_exists("north", key)
    replay = client.__class__()
    replay.cookies["sessionid"] = key
    assert replay.get("/admin/", **NORTH).status_code == 302


def test_staff_see_their_sessions_and_end_another(client, tenant_a, admin_user):
    other = client.__class__()
    sign_in(other)
    sign_in(client)
    other_key = other.cookies["sessionid"].value
    page = client.get("/admin/sessions/", **NORTH)
    assert page.status_code == 200
    html = page.content.decode()
    rows = re.findall(r'name="session" value="([0-9a-f]{20})"', html)
    assert len(rows) == 1  # the other one; the current one cannot be ended from here
    assert "Firefox 128" in html and "127.0.0.1" in html
    assert other_key not in html and client.cookies["sessionid"].value not in html

    ended = client.post("/admin/sessions/", {"session": rows[0]}, **NORTH)
    assert ended.status_code == 302
    assert not session_exists("north", other_key)
    assert other.get("/admin/", **NORTH).status_code == 302
    assert client.get("/admin/", **NORTH).status_code == 200


def test_end_all_other_sessions(client, tenant_a, admin_user):
    others = [client.__class__() for _ in range(2)]
    for browser in others:
        sign_in(browser)
    sign_in(client)
    client.post("/admin/sessions/", {"session": "others"}, **NORTH)
    for browser in others:
        assert browser.get("/admin/", **NORTH).status_code == 302
    assert client.get("/admin/", **NORTH).status_code == 200


def test_another_users_session_cannot_be_ended(client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        get_user_model().objects.create_user("ed@north.example", "ed@north.example", PASSWORD,
                                             is_staff=True, is_superuser=True)
    connection.set_schema_to_public()
    ed = client.__class__()
    sign_in(ed, username="ed@north.example")
    with schema_context("north"):
        eds = Session.objects.get(session_key=ed.cookies["sessionid"].value)
    sign_in(client)


    client.post("/admin/sessions/", {"session": ref(eds.session_key)}, **NORTH)
    assert ed.get("/admin/", **NORTH).status_code == 200


# --- Passwords ------------------------------------------------------------------------------------

def reset_link(client):
    mail.outbox.clear()
    response = client.post("/admin/password_reset/", {"email": "admin@north.example"}, **NORTH)
    assert response.status_code == 302
    [message] = mail.outbox
    return re.search(r"https?://\S+", message.body).group(0)


def test_the_reset_link_is_on_the_tenants_own_host(client, tenant_a, admin_user):
    link = reset_link(client)
    assert link.startswith("http://north.localhost/admin/password_reset/confirm/")
    page = client.get(link.split("north.localhost", 1)[1], follow=True, **NORTH)
    assert page.status_code == 200 and page.context["validlink"] is True


@pytest.mark.parametrize(("password", "problem"), [
    ("Short-pw-1", "12"),                 # 10 characters
    ("password1234", "common"),          # 12 characters, on Django's list of common passwords
    ("qwertyuiop123", "common"),
])
def test_short_or_common_passwords_are_refused_by_the_reset_link(client, tenant_a, admin_user,
                                                                 password, problem):
    link = reset_link(client)
    form_page = client.get(link.split("north.localhost", 1)[1], follow=True, **NORTH)
    response = client.post(form_page.redirect_chain[-1][0],
                           {"new_password1": password, "new_password2": password}, **NORTH)
    assert response.status_code == 200  # the form again, with the error
    errors = " ".join(str(e) for e in response.context["form"].errors.get("new_password2", []))
    assert ("12" in errors) if problem == "12" else ("распространён" in errors
                                                      or "common" in errors), errors
    with tenant_context(tenant_a):
        assert get_user_model().objects.get(pk=admin_user.pk).check_password(PASSWORD)


@pytest.mark.parametrize("password", ["Short-pw-1", "password1234"])
def test_short_or_common_passwords_are_refused_for_operators(client, password):
    user, link = operators.add("ops3@platform.example")
    path = link.split("localhost", 1)[1]
    form_page = client.get(path, follow=True, **BASE)
    response = client.post(form_page.redirect_chain[-1][0],
                           {"new_password1": password, "new_password2": password}, **BASE)
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.has_usable_password()


def test_short_passwords_are_refused_in_the_admins_user_form(client, tenant_a, admin_user):
    with tenant_context(tenant_a):
        client.force_login(admin_user)
    connection.set_schema_to_public()
    response = client.post("/admin/users/new/", {
        "username": "new@north.example", "email": "new@north.example", "first_name": "Н",
        "last_name": "Н", "password1": "Short-pw-1", "password2": "Short-pw-1",
        "is_active": "on"}, **NORTH)
    assert response.status_code == 200
    with tenant_context(tenant_a):
        assert not get_user_model().objects.filter(username="new@north.example").exists()


def test_a_sessions_address_is_the_one_client_address(client, tenant_a, admin_user, settings):
    """Behind one trusted proxy the session keeps the address the proxy appended, never one
    the client wrote into X-Forwarded-For itself (infra/clientip.py)."""
    settings.DGBOX_TRUSTED_PROXIES = 1
    forged = {**NORTH, "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7",
              "REMOTE_ADDR": "10.0.0.2"}
    response = client.post("/admin/login/", {"username": "admin@north.example",
                                             "password": PASSWORD}, **forged)
    assert response.status_code == 302
    with schema_context("north"):
        session = Session.objects.get(session_key=client.cookies["sessionid"].value)
    assert session.ip == "203.0.113.7"
