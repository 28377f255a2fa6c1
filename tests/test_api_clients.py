"""API clients for the tenant's administrator (services/api/: admin_views, clients, throttles,
usage; issue 16).

- Settings → API clients is the administrators' only: an editor or a case worker is refused.
- A key is shown once, on the page answering the POST that issued it; only its digest is kept.
- Rotation: the old key works until its overlap ends, then 401; revocation and deactivation
  stop keys at once.
- A client for staff case work gets a service account that cannot sign in.
- Each client has its own limit (429 problem JSON with Retry-After), counted in a real Redis;
  another client and another tenant are not affected.
- Every change is an audit event; every keyed write is audited with its request id; every
  keyed call is counted per client and day.
- Bad input (NUL bytes, duplicate names) is a form error, never a 500; a client of one tenant
  is neither listed nor usable on another.
"""

import datetime
import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client, RequestFactory
from django.utils import timezone
from django_tenants.utils import tenant_context

from services.api import throttles, usage
from services.api.models import ApiClient, ApiClientUsage, ApiKey
from services.api.scopes import Scope
from services.workflows.spec import STAFF_GROUP
from tenants.audit.models import AuditEvent, Kind
from tenants.metering import api_client_calls, platform_today

from .factories import NORTH, SOUTH, StaffFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_counters")]
INDEX = "/admin/api-clients/"
WHOAMI = "/api/v1/whoami"
KEY_RE = re.compile(r"dgbox_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")
POST_OFFICE = {"name": "Почта России: приём заявлений", "description": "Отделения в районах",
               "contact_email": "api@pochta.example", "scopes": ["catalogue:read"],
               "rate_per_minute": "600"}


def signed_in(tenant, email):
    client = Client()
    with tenant_context(tenant):
        client.force_login(get_user_model().objects.get(email=email))
    connection.set_schema_to_public()
    return client


@pytest.fixture
def admin_a(tenant_a):
    return signed_in(tenant_a, "admin@north.example")


def in_schema(tenant, fn):
    with tenant_context(tenant):
        result = fn()
    connection.set_schema_to_public()
    return result


def register(admin, data=POST_OFFICE, host=NORTH):
    response = admin.post(INDEX + "add/", data, **host)
    assert response.status_code == 302, response.content.decode()[:3000]
    return int(response["Location"].rstrip("/").rsplit("/", 1)[1])


def issue(admin, pk, host=NORTH):
    response = admin.post(f"{INDEX}{pk}/keys/issue/", **host)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [plaintext] = set(KEY_RE.findall(response.content.decode()))
    return plaintext


def whoami(key, host=NORTH, method="get", **extra):
    return getattr(Client(), method)(WHOAMI, HTTP_AUTHORIZATION=f"Bearer {key}", **host,
                                     **extra)


def key_row(tenant, plaintext):
    prefix = plaintext.split("_")[1]
    return in_schema(tenant, lambda: ApiKey.objects.get(prefix=prefix))


#: The last audit event of each schema before the test: the trail is append-only, and tests
#: elsewhere in the suite (committed, with threads) leave their API calls on it.
_BEFORE: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _audit_baseline(session_tenants, db):
    from django.db.models import Max

    for tenant in (session_tenants["a"], session_tenants["b"]):
        _BEFORE[tenant.schema_name] = in_schema(
            tenant, lambda: AuditEvent.objects.aggregate(n=Max("id"))["n"] or 0)


def audit(tenant, kind):
    """This test's audit events of `kind` in the tenant's schema."""
    return in_schema(tenant, lambda: list(AuditEvent.objects.filter(
        kind=kind, id__gt=_BEFORE.get(tenant.schema_name, 0)).order_by("id")))


# --- The admin pages -----------------------------------------------------------------------------

def test_an_administrator_registers_a_client_and_is_shown_its_key_once(admin_a, tenant_a):
    assert INDEX in admin_a.get("/admin/", **NORTH).content.decode()  # Settings menu
    page = admin_a.get(INDEX + "add/", **NORTH)
    assert page.status_code == 200
    html = page.content.decode()
    for scope in Scope:
        assert str(scope.label) in html or scope.value in html
    pk = register(admin_a)
    plaintext = issue(admin_a, pk)
    assert whoami(plaintext).json() == {"client": POST_OFFICE["name"],
                                        "scopes": ["catalogue:read"]}
    # Never shown again: not on the client's page, not in the list; only its prefix is.
    for url in (INDEX, f"{INDEX}{pk}/"):
        html = admin_a.get(url, **NORTH).content.decode()
        assert POST_OFFICE["name"] in html
        assert plaintext not in html and plaintext.split("_", 2)[2] not in html
    prefix = plaintext.split("_")[1]
    assert prefix in admin_a.get(f"{INDEX}{pk}/", **NORTH).content.decode()
    row = in_schema(tenant_a, lambda: ApiKey.objects.values().get(prefix=prefix))
    assert plaintext.split("_", 2)[2] not in str(row) and len(row["digest"]) == 64


@pytest.mark.parametrize("who", ["editor", "case_worker"])
def test_editors_and_case_workers_are_refused(tenant_a, who):
    groups = {"editor": ["Editors"], "case_worker": [STAFF_GROUP]}[who]
    user = in_schema(tenant_a, lambda: StaffFactory(
        groups=groups, permissions=["wagtailadmin.access_admin", "auth.add_user"]))
    client = Client()
    in_schema(tenant_a, lambda: client.force_login(user))
    assert client.get(INDEX, **NORTH).status_code in (302, 403)
    assert client.post(INDEX + "add/", POST_OFFICE, **NORTH).status_code in (302, 403)
    assert INDEX not in client.get("/admin/", **NORTH).content.decode()
    assert in_schema(tenant_a, lambda: ApiClient.objects.count()) == 0


@pytest.mark.parametrize(("field", "value"), [
    ("name", "Почта\x00России"), ("description", "Описание\x00"),
    ("contact_email", "api\x00@pochta.example"), ("rate_per_minute", "6\x000"),
    ("name", ""), ("name", "   "), ("rate_per_minute", "0"), ("rate_per_minute", "много"),
    ("scopes", "everything"), ("name", "Я" * 121),
])
def test_bad_input_is_a_form_error_and_nothing_is_made(admin_a, tenant_a, field, value):
    response = admin_a.post(INDEX + "add/", {**POST_OFFICE, field: value}, **NORTH)
    assert response.status_code == 400
    assert "data-form-errors" in response.content.decode()
    assert in_schema(tenant_a, lambda: ApiClient.objects.count()) == 0


def test_names_are_unique_whatever_the_case(admin_a):
    register(admin_a)
    again = admin_a.post(INDEX + "add/", {**POST_OFFICE, "name": POST_OFFICE["name"].upper()},
                         **NORTH)
    assert again.status_code == 400


# --- Keys: rotation, revocation, deactivation -------------------------------------------------

def test_a_rotated_key_works_until_its_overlap_ends(admin_a, tenant_a):
    pk = register(admin_a)
    old = issue(admin_a, pk)
    old_row = key_row(tenant_a, old)
    confirm = admin_a.get(f"{INDEX}{pk}/keys/{old_row.pk}/rotate/", **NORTH)
    assert confirm.status_code == 200 and 'value="86400" selected' in confirm.content.decode()
    before = timezone.now()
    response = admin_a.post(f"{INDEX}{pk}/keys/{old_row.pk}/rotate/", {"overlap": "3600"},
                            **NORTH)
    assert response.status_code == 200
    [new] = set(KEY_RE.findall(response.content.decode())) - {old}
    old_row = key_row(tenant_a, old)
    hour = datetime.timedelta(hours=1)
    assert before + hour <= old_row.expires_at <= timezone.now() + hour
    # Both work during the overlap.
    assert whoami(old).status_code == 200 and whoami(new).status_code == 200
    # Once the overlap is over, the old key is refused and the new one still works.
    in_schema(tenant_a, lambda: ApiKey.objects.filter(pk=old_row.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)))
    assert whoami(old).status_code == 401
    assert whoami(new).status_code == 200
    # A rotation with no overlap stops the old key at once.
    new_row = key_row(tenant_a, new)
    response = admin_a.post(f"{INDEX}{pk}/keys/{new_row.pk}/rotate/", {"overlap": "0"},
                            **NORTH)
    [newest] = set(KEY_RE.findall(response.content.decode())) - {new}
    assert whoami(new).status_code == 401 and whoami(newest).status_code == 200


def test_a_rotation_overlap_must_be_one_offered(admin_a, tenant_a):
    pk = register(admin_a)
    key = key_row(tenant_a, issue(admin_a, pk))
    for overlap in ("99999999", "-1", "\x00", ""):
        response = admin_a.post(f"{INDEX}{pk}/keys/{key.pk}/rotate/", {"overlap": overlap},
                                **NORTH)
        assert response.status_code == 400
    assert in_schema(tenant_a, lambda: ApiKey.objects.count()) == 1


def test_a_revoked_key_is_refused_at_once(admin_a, tenant_a):
    pk = register(admin_a)
    plaintext = issue(admin_a, pk)
    other = issue(admin_a, pk)
    key = key_row(tenant_a, plaintext)
    assert whoami(plaintext).status_code == 200
    confirm = admin_a.get(f"{INDEX}{pk}/keys/{key.pk}/revoke/", **NORTH)
    assert confirm.status_code == 200 and "data-confirm" in confirm.content.decode()
    assert whoami(plaintext).status_code == 200  # asking is not revoking
    assert admin_a.post(f"{INDEX}{pk}/keys/{key.pk}/revoke/", **NORTH).status_code == 302
    refused = whoami(plaintext)
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"
    assert whoami(other).status_code == 200
    # A revoked key cannot be revoked or rotated again.
    assert admin_a.post(f"{INDEX}{pk}/keys/{key.pk}/revoke/", **NORTH).status_code == 404
    assert admin_a.post(f"{INDEX}{pk}/keys/{key.pk}/rotate/", {"overlap": "0"},
                        **NORTH).status_code == 404


def test_a_deactivated_client_is_refused_until_reactivated(admin_a, tenant_a):
    pk = register(admin_a)
    plaintext, leaked = issue(admin_a, pk), issue(admin_a, pk)
    assert admin_a.get(f"{INDEX}{pk}/deactivate/", **NORTH).status_code == 200
    assert whoami(plaintext).status_code == 200
    assert admin_a.post(f"{INDEX}{pk}/deactivate/", **NORTH).status_code == 302
    assert whoami(plaintext).status_code == 401 and whoami(leaked).status_code == 401
    # No new key for a deactivated client, no rotation; a leaked key can still be revoked.
    admin_a.post(f"{INDEX}{pk}/keys/issue/", **NORTH)
    assert in_schema(tenant_a, lambda: ApiKey.objects.count()) == 2
    leaked_row = key_row(tenant_a, leaked)
    assert admin_a.post(f"{INDEX}{pk}/keys/{leaked_row.pk}/rotate/", {"overlap": "0"},
                        **NORTH).status_code == 404
    assert admin_a.post(f"{INDEX}{pk}/keys/{leaked_row.pk}/revoke/", **NORTH).status_code == 302
    assert admin_a.post(f"{INDEX}{pk}/reactivate/", **NORTH).status_code == 302
    assert whoami(plaintext).status_code == 200
    assert whoami(leaked).status_code == 401


# --- The service account for case work ---------------------------------------------------------

def test_a_case_work_client_gets_a_service_account_that_cannot_sign_in(admin_a, tenant_a):
    data = {**POST_OFFICE, "scopes": ["cases:work"]}
    refused = admin_a.post(INDEX + "add/", data, **NORTH)  # no group chosen
    assert refused.status_code == 400
    workers = in_schema(tenant_a, lambda: Group.objects.get(name=STAFF_GROUP))
    pk = register(admin_a, {**data, "groups": [str(workers.pk)]})

    def account():
        user = ApiClient.objects.select_related("service_user").get(pk=pk).service_user
        return (user.username, user.email, user.has_usable_password(), user.is_superuser,
                user.is_staff, sorted(user.groups.values_list("name", flat=True)))

    username, email, usable, superuser, is_staff, groups = in_schema(tenant_a, account)
    assert (email, usable, superuser, is_staff, groups) == ("", False, False, False,
                                                            [STAFF_GROUP])
    plaintext = issue(admin_a, pk)
    assert whoami(plaintext).json()["scopes"] == ["cases:work"]
    # Nobody signs in as it, with any password.
    def sign_in(password):
        request = RequestFactory().post("/admin/login/", **NORTH)
        return authenticate(request, username=username, password=password)

    for password in ("", "x", plaintext):
        assert in_schema(tenant_a, lambda password=password: sign_in(password)) is None
    visitor = Client()
    visitor.post("/admin/login/", {"username": username, "password": "x"}, **NORTH)
    assert visitor.get("/admin/", **NORTH).status_code == 302  # still signed out
    # Without the scope its account keeps no group.
    admin_a.post(f"{INDEX}{pk}/", {**POST_OFFICE, "name": "Почта России"}, **NORTH)
    assert in_schema(tenant_a, account)[5] == []


# --- Limits per client ---------------------------------------------------------------------------

@pytest.mark.django_db(transaction=False)
def test_each_client_has_its_own_limit(tenant_a, tenant_b, redis_counters, settings,
                                       monkeypatch):
    # A window far longer than the test: no minute ends half-way through it.
    monkeypatch.setattr(throttles, "WINDOW_SECONDS", 3650 * 86400)
    settings.DGBOX_TENANT_API_RATES = {}

    def make(tenant, name):
        def create():
            client = ApiClient.objects.create(name=name, rate_per_minute=3)
            return client.issue_key()[1]
        return in_schema(tenant, create)

    first, second = make(tenant_a, "Госуслуги"), make(tenant_a, "МФЦ")
    south = make(tenant_b, "Госуслуги")
    # Many addresses, one client: one limit.
    codes = [whoami(first, REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = whoami(first, HTTP_ACCEPT_LANGUAGE="en")
    assert refused["Content-Type"] == "application/problem+json"
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["status"] == 429 and refused.json()["detail"]
    # Another client of the tenant, the same name on another tenant: their own counts.
    assert [whoami(second).status_code for _ in range(3)] == [200] * 3
    assert [whoami(south, SOUTH).status_code for _ in range(3)] == [200] * 3
    # A client's limit replaces the per-address limit: calls without a key keep it.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"client": "2/3650d"}}
    assert [Client().get(WHOAMI, REMOTE_ADDR="198.51.100.77", **NORTH).status_code
            for _ in range(3)] == [200, 200, 429]


@pytest.mark.django_db(transaction=False)
def test_refused_keys_count_against_the_address(tenant_a, redis_counters, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"client": "2/3650d"}}
    settings.DGBOX_TENANT_API_RATES = {}
    codes = [whoami(f"dgbox_0123456789ab_guess{n}", REMOTE_ADDR="203.0.113.9").status_code
             for n in range(4)]
    assert codes == [401, 401, 429, 429]


# --- Audit and metering --------------------------------------------------------------------------

def test_every_change_is_an_audit_event(admin_a, tenant_a):
    pk = register(admin_a)
    plaintext = issue(admin_a, pk)
    key = key_row(tenant_a, plaintext)
    admin_a.post(f"{INDEX}{pk}/", {**POST_OFFICE, "rate_per_minute": "60"}, **NORTH)
    admin_a.post(f"{INDEX}{pk}/keys/{key.pk}/rotate/", {"overlap": "86400"}, **NORTH)
    admin_a.post(f"{INDEX}{pk}/keys/{key.pk}/revoke/", **NORTH)
    admin_a.post(f"{INDEX}{pk}/deactivate/", **NORTH)
    events = audit(tenant_a, Kind.API_CLIENT_CHANGED)
    starts = ["API client created", "API key issued for", "API client changed",
              "API key rotated for", "API key revoked for", "API client deactivated"]
    assert len(events) == len(starts)
    for event, start in zip(events, starts, strict=True):
        assert event.summary.startswith(start) and POST_OFFICE["name"] in event.summary
    assert {event.actor_display for event in events} == {"admin@north.example"}
    assert events[2].details["changed"] == {"rate_per_minute": {"before": 600, "after": 60}}
    assert all(event.object_id == str(pk) for event in events)
    # The audit never holds the key's secret.
    assert not any(plaintext.split("_", 2)[2] in str(event.details) for event in events)
    assert not audit(tenant_a, Kind.API_WRITE)


def test_every_keyed_call_is_audited_and_counted(admin_a, tenant_a, tenant_b):
    pk = register(admin_a)
    plaintext = issue(admin_a, pk)
    for _ in range(3):
        assert whoami(plaintext).status_code == 200
    written = whoami(plaintext, method="post", data={"x": "Привет"},
                     HTTP_X_REQUEST_ID="0f0e0d0c0b0a09080706050403020100")
    assert written.status_code == 405
    whoami("", method="post")  # without a key: not a client's write
    [event] = audit(tenant_a, Kind.API_WRITE)
    assert event.details == {"client": POST_OFFICE["name"], "client_id": pk,
                             "key": plaintext.split("_")[1], "method": "POST",
                             "path": WHOAMI, "status": 405}
    assert event.request_id and event.actor_display == f"API client: {POST_OFFICE['name']}"
    assert not audit(tenant_b, Kind.API_WRITE)
    # Every keyed read too, as its own kind; the call without a key is not a client's.
    reads = audit(tenant_a, Kind.API_READ)
    assert len(reads) == 3
    assert {(e.details["method"], e.details["path"], e.details["status"]) for e in reads} \
        == {("GET", WHOAMI, 200)}
    assert not audit(tenant_b, Kind.API_READ)
    # Reads and writes are counted per client and day; the hourly copy keeps them.
    today = platform_today()
    assert in_schema(tenant_a, lambda: api_client_calls(today, [pk])) == {pk: (4, 1)}

    def copy():
        usage.copy_client_usage(*_day(today))
        return list(ApiClientUsage.objects.values_list("day", "calls", "writes"))

    assert in_schema(tenant_a, copy) == [(today, 4, 1)]
    assert in_schema(tenant_b, lambda: api_client_calls(today, [pk])) == {pk: (0, 0)}
    html = admin_a.get(f"{INDEX}{pk}/", **NORTH).content.decode()
    assert re.search(r"<td>4</td><td>1</td>", html)


def _day(day):
    import zoneinfo

    from django.conf import settings

    start = datetime.datetime.combine(day, datetime.time.min,
                                      tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return start, start + datetime.timedelta(days=1)


# --- Two tenants ---------------------------------------------------------------------------------

def test_a_client_of_one_tenant_is_neither_listed_nor_usable_on_another(admin_a, tenant_a,
                                                                       tenant_b):
    pk = register(admin_a)
    plaintext = issue(admin_a, pk)
    admin_b = signed_in(tenant_b, "admin@south.example")
    listing = admin_b.get(INDEX, **SOUTH)
    assert listing.status_code == 200
    assert POST_OFFICE["name"] not in listing.content.decode()
    assert admin_b.get(f"{INDEX}{pk}/", **SOUTH).status_code == 404
    assert admin_b.post(f"{INDEX}{pk}/keys/issue/", **SOUTH).status_code == 404
    assert whoami(plaintext, SOUTH).status_code == 401
    assert in_schema(tenant_b, lambda: ApiClient.objects.count()) == 0
    # And B's administrator's session is no key to A's admin.
    assert admin_b.get(INDEX, **NORTH).status_code in (302, 403)


# --- dgbox api-key -------------------------------------------------------------------------------

def test_the_command_issues_a_key_printed_alone(tenant_a, tenant_b):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No API client"):
        call_command("api-key", "issue", "--tenant", "north", "--client", "Почта")
    with pytest.raises(CommandError, match="No tenant"):
        call_command("api-key", "issue", "--tenant", "nowhere", "--client", "Почта")
    out, err = io.StringIO(), io.StringIO()
    call_command("api-key", "issue", "--tenant", "north", "--client", "Почта\x00 России",
                 "--create", "--scope", "catalogue:read", "--rate", "60", stdout=out,
                 stderr=err)
    [plaintext] = out.getvalue().split()
    assert KEY_RE.fullmatch(plaintext) and plaintext not in err.getvalue()
    assert whoami(plaintext).json() == {"client": "Почта России", "scopes": ["catalogue:read"]}
    assert whoami(plaintext, SOUTH).status_code == 401
    [event, issued] = audit(tenant_a, Kind.API_CLIENT_CHANGED)
    assert issued.summary.startswith("API key issued") and issued.actor_display.startswith(
        "system: ")


def test_a_keyed_write_that_fails_unexpectedly_is_still_audited(tenant_a):
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    from services.api.base import V1

    class Failing(V1, APIView):
        def post(self, request):
            raise RuntimeError("a bug")

    def call():
        client = ApiClient.objects.create(name="Ошибка", rate_per_minute=10)
        plaintext = client.issue_key()[1]
        request = APIRequestFactory().post("/api/v1/failing", {"a": 1}, format="json",
                                           HTTP_AUTHORIZATION=f"Bearer {plaintext}")
        with pytest.raises(RuntimeError, match="a bug"):
            Failing.as_view()(request)
        return list(AuditEvent.objects.filter(
            kind=Kind.API_WRITE, details__client="Ошибка").values_list(
            "details", flat=True))

    [details] = in_schema(tenant_a, call)
    assert (details["client"], details["method"], details["status"]) == ("Ошибка", "POST", 500)
