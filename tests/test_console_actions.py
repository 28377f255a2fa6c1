"""Delegated administration in the console (issue 13): launching a tenant from the browser
through the CLI's validation and launch (every problem at once, next to its field; nothing
created on error; the first administrator e-mailed their link), suspend, resume, archive with
the slug typed again, back up now, the first administrator's invitation sent again or
revoked, and the password asked again before destructive actions when the last check is old.
"""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context

from tenants.audit.models import AuditEvent, Kind
from tenants.console import reauth
from tenants.models import Domain, Tenant

from .factories import console_account, console_sign_in

pytestmark = pytest.mark.django_db
PORTAL = {"HTTP_HOST": "localhost"}
PASSWORD = "a long console password"


@pytest.fixture
def operator(client, session_tenants):
    return console_sign_in(client, console_account("olga"))


@pytest.fixture
def north_admin(client, session_tenants):
    return console_sign_in(client, console_account("ivan", region=session_tenants["a"]))


def link_in(message):
    return re.search(r"https?://\S+", message.body).group(0)


def opens_set_password_form(client, link, host):
    path = link.split(host, 1)[1]
    page = client.get(path, follow=True, HTTP_HOST=host)
    return page.context["validlink"] is True


def errors_by_field(html):
    """{field id: error text} as the page shows them next to each field."""
    found = {}
    for field_id, text in re.findall(
            r'<p class="govuk-error-message" id="id_(\w+)-error">(.*?)</p>', html, re.S):
        found[field_id] = re.sub(r"<[^>]+>", "", text).strip()
    return found


# --- Launching ----------------------------------------------------------------------------------


def test_every_problem_is_listed_next_to_its_field_and_nothing_is_created(operator):
    tenants_before = Tenant.objects.count()
    response = operator.post("/operator/launch/", {
        "name": "Северная область", "kind": "municipality", "parent": "",
        "slug": "north", "admin_email": "not-an-address", "language": "en",
        "time_zone": "Mars/Olympus", "reference_prefix": "1"}, **PORTAL)
    assert response.status_code == 400
    html = response.content.decode()
    errors = errors_by_field(html)
    assert set(errors) == {"parent", "slug", "admin_email", "time_zone", "reference_prefix"}
    # One problem for the slug: its default domain being taken too goes without saying.
    assert errors["slug"] == ("Ошибка: Имя «north» уже занято другим регионом или "
                              "муниципалитетом: выберите другое.")
    assert "Mars/Olympus" in errors["time_zone"]
    assert 'class="govuk-error-summary"' in html
    assert Tenant.objects.count() == tenants_before
    assert not mail.outbox


def test_the_launch_problems_are_in_the_readers_language(operator):
    response = operator.post("/operator/launch/", {"name": "", "kind": "region",
                                                   "admin_email": ""}, **PORTAL)
    assert response.status_code == 400
    errors = errors_by_field(response.content.decode())
    assert errors["name"] == "Ошибка: Введите название региона или муниципалитета."


def test_an_operator_launches_a_region_and_its_administrator_gets_the_link(operator, client):
    response = operator.post("/operator/launch/", {
        "name": "Озёрная область", "kind": "region", "admin_email": "Head@Ozyornaya.example",
        "slug": "ozyornaya",
        "language": "ru", "time_zone": "Europe/Moscow"}, **PORTAL)
    assert response.status_code == 302
    assert response["Location"] == "/operator/tenants/ozyornaya/"
    tenant = Tenant.objects.get(slug="ozyornaya")
    assert tenant.kind == "region" and tenant.status == Tenant.Status.ACTIVE
    page = operator.get(response["Location"], **PORTAL)
    assert "head@ozyornaya.example" in page.content.decode()  # invited, no password yet
    [message] = mail.outbox
    assert message.to == ["head@ozyornaya.example"]
    assert "Озёрная область" in message.subject
    link = link_in(message)
    assert link.startswith("http://ozyornaya.localhost/admin/password_reset/")
    client.logout()
    assert opens_set_password_form(client, link, "ozyornaya.localhost")


def test_a_regional_administrator_launches_only_under_their_region(north_admin):
    form = north_admin.get("/operator/launch/", **PORTAL)
    assert 'name="kind"' not in form.content.decode()  # municipalities only
    assert list(form.context["form"].fields["parent"].choices) == [
        ("north", "Северная область")]

    refused = north_admin.post("/operator/launch/", {
        "name": "Камышин", "parent": "south", "admin_email": "a@kamyshin.example"}, **PORTAL)
    assert refused.status_code == 400
    assert "parent" in errors_by_field(refused.content.decode())
    assert not Tenant.objects.filter(slug="kamyshin").exists()

    done = north_admin.post("/operator/launch/", {
        "name": "Камышин", "parent": "north", "admin_email": "a@kamyshin.example",
        "kind": "region"}, **PORTAL)  # a kind sent anyway is ignored
    assert done.status_code == 302
    tenant = Tenant.objects.get(slug="kamyshin")
    assert tenant.kind == "municipality" and tenant.parent.slug == "north"
    assert len(mail.outbox) == 1


# --- Lifecycle ----------------------------------------------------------------------------------


def test_suspend_asks_for_the_password_when_the_last_check_is_old(client, session_tenants,
                                                                   settings):
    settings.DGBOX_CONSOLE_REAUTH_MINUTES = 5
    user = console_account("petr")
    console_sign_in(client, user, checked=False)
    session = client.session
    session[reauth.SESSION_KEY] = time.time() - 6 * 60  # six minutes ago
    session.save()
    page = client.get("/operator/tenants/north/suspend/", **PORTAL)
    assert 'name="password"' in page.content.decode()

    assert client.post("/operator/tenants/north/suspend/", {}, **PORTAL).status_code == 400
    wrong = client.post("/operator/tenants/north/suspend/", {"password": "nope"}, **PORTAL)
    assert wrong.status_code == 400
    assert Tenant.objects.get(slug="north").status == Tenant.Status.ACTIVE

    done = client.post("/operator/tenants/north/suspend/", {"password": PASSWORD}, **PORTAL,
                       follow=True)
    assert Tenant.objects.get(slug="north").status == Tenant.Status.SUSPENDED
    assert "Северная область" in done.content.decode()
    # Just checked: the next destructive action does not ask again.
    page = client.get("/operator/tenants/north/revoke-invitation/", **PORTAL)
    assert 'name="password"' not in page.content.decode()
    # Resuming is not destructive: no password, straight from the tenant page's button.
    assert client.post("/operator/tenants/north/resume/", **PORTAL).status_code == 302
    assert Tenant.objects.get(slug="north").status == Tenant.Status.ACTIVE


def test_signing_in_counts_as_a_password_check(client, session_tenants):
    console_account("masha")
    response = client.post("/operator/login/", {"username": "masha", "password": PASSWORD},
                           **PORTAL)
    assert response.status_code == 302
    page = client.get("/operator/tenants/north/archive/", **PORTAL)
    assert 'name="password"' not in page.content.decode()
    assert 'name="confirm_slug"' in page.content.decode()


def test_archive_needs_the_slug_typed_again(operator, client):
    wrong = operator.post("/operator/tenants/ryabinovka/archive/",
                          {"confirm_slug": "north"}, **PORTAL)
    assert wrong.status_code == 400
    assert "confirm_slug" in errors_by_field(wrong.content.decode())
    assert Tenant.objects.get(slug="ryabinovka").status == Tenant.Status.ACTIVE
    done = operator.post("/operator/tenants/ryabinovka/archive/",
                         {"confirm_slug": "ryabinovka"}, **PORTAL)
    assert done.status_code == 302 and done["Location"] == "/operator/tenants/ryabinovka/"
    assert Tenant.objects.get(slug="ryabinovka").status == Tenant.Status.ARCHIVED
    # Not allowed any more: the page says so, a POST changes nothing.
    again = operator.post("/operator/tenants/ryabinovka/suspend/", **PORTAL, follow=True)
    assert Tenant.objects.get(slug="ryabinovka").status == Tenant.Status.ARCHIVED
    assert "govuk-notification-banner" in again.content.decode()


def test_back_up_now(operator, s3_bucket):
    response = operator.post("/operator/tenants/north/backup/", **PORTAL, follow=True)
    assert response.status_code == 200
    text = " ".join(str(m) for m in response.context["messages"])
    key = re.search(r"backups/north/\S+\.tar\.gz", text)
    assert key, text


# --- The first administrator's invitation ------------------------------------------------------


def test_the_invitation_is_sent_again_and_revoked(operator, client, session_tenants):
    launched = operator.post("/operator/launch/", {
        "name": "Берёзовка", "kind": "municipality", "parent": "south",
        "admin_email": "head@berezovka.example"}, **PORTAL)
    assert launched.status_code == 302
    first = link_in(mail.outbox[0])

    again = operator.post("/operator/tenants/berezovka/resend-invitation/", **PORTAL)
    assert again.status_code == 302
    second = link_in(mail.outbox[1])
    assert mail.outbox[1].to == ["head@berezovka.example"]
    assert second != first

    revoked = operator.post("/operator/tenants/berezovka/revoke-invitation/", **PORTAL)
    assert revoked.status_code == 302
    tenant = Tenant.objects.get(slug="berezovka")
    with schema_context(tenant.schema_name):
        admin = get_user_model().objects.get(email="head@berezovka.example")
        assert not admin.is_active
    connection.set_schema_to_public()
    host = Domain.objects.get(tenant=tenant).domain
    client.logout()
    assert not opens_set_password_form(client, first, host)
    assert not opens_set_password_form(client, second, host)
    connection.set_schema_to_public()
    recorded = list(AuditEvent.objects.filter(kind=Kind.CONSOLE_ACTION, object_id=tenant.pk)
                    .order_by("pk").values_list("details__action", "actor_display"))
    assert recorded == [("resend_invitation", "olga"), ("revoke_invitation", "olga")]

    # Sent again after revoking: only the newest link works, and the account is back.
    connection.set_schema_to_public()  # the requests to the tenant's host switched it
    console_sign_in(client, console_account("olga2"))
    resent = client.post("/operator/tenants/berezovka/resend-invitation/", **PORTAL,
                         follow=True)
    assert resent.redirect_chain[-1][0] == "/operator/tenants/berezovka/"
    assert len(mail.outbox) == 3, [str(m) for m in resent.context["messages"]]
    third = link_in(mail.outbox[2])
    client.logout()
    assert opens_set_password_form(client, third, host)
    assert not opens_set_password_form(client, first, host)


def test_no_invitation_once_the_password_is_set(operator, session_tenants):
    with schema_context("north"):
        admin = get_user_model().objects.get(email="admin@north.example")
        admin.set_password("a password set by the administrator")
        admin.save()
    connection.set_schema_to_public()
    page = operator.get("/operator/tenants/north/", **PORTAL)
    assert "/resend-invitation/" not in page.content.decode()
    response = operator.post("/operator/tenants/north/resend-invitation/", **PORTAL,
                             follow=True)
    assert not mail.outbox
    assert "govuk-notification-banner" in response.content.decode()
