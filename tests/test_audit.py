"""The audit trail (tenants/audit/): append-only in PostgreSQL (bulk update/delete, raw SQL and
TRUNCATE fail, in the public schema, in a tenant and in a freshly launched one, whose trigger
is its own), one row for each event the trail promises, no personal data in clear, and each
tenant's rows in its own schema only."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from services.models import Case
from services.workflows import spec as workflowspec
from tenants import lifecycle
from tenants.audit import receivers
from tenants.audit.models import AuditEvent, Kind
from tenants.audit.service import keyed_hash, record
from tenants.models import SpareSchema

from .factories import (
    NORTH,
    SOUTH,
    OnlineServiceFactory,
    StaffFactory,
    audit_triggers,
    launch,
    make_cases,
)

pytestmark = pytest.mark.django_db


def events(schema, kind=None):
    with schema_context(schema):
        rows = AuditEvent.objects.order_by("id")
        return list(rows.filter(kind=kind) if kind else rows)


def refused(statement):
    """`statement()` fails in the database (inside a savepoint, so the test goes on)."""
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        statement()


def raw(sql):
    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    return run


# --- Append-only, enforced by PostgreSQL ------------------------------------------------------

@pytest.mark.parametrize("schema", ["public", "north"])
def test_rows_cannot_be_changed_or_deleted_by_any_route(session_tenants, schema):
    with schema_context(schema):
        event = record(Kind.CONSOLE_ACTION, "first")
        record(Kind.CONSOLE_ACTION, "second")
        refused(lambda: AuditEvent.objects.update(summary="rewritten"))
        refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
        refused(lambda: AuditEvent.objects.all().delete())
        refused(lambda: AuditEvent.objects.filter(pk=-1).update(summary="x"))  # even 0 rows
        event.summary = "edited"
        refused(event.save)
        refused(raw("UPDATE audit_auditevent SET summary = 'x'"))
        refused(raw("DELETE FROM audit_auditevent"))
        refused(raw("TRUNCATE audit_auditevent"))
        assert list(AuditEvent.objects.filter(summary__in=["first", "second"])
                    .order_by("id").values_list("summary", flat=True)) == ["first", "second"]


def test_the_database_stamps_the_time_so_rows_cannot_be_back_dated(session_tenants):
    with schema_context("north"), connection.cursor() as cursor:
        cursor.execute("INSERT INTO audit_auditevent (at, kind, summary, details, actor_display,"
                       " object_type, object_id, request_id) VALUES ('2001-01-01', 'sign_in',"
                       " 'old', '{}', '', '', '', '') RETURNING at, now()")
        at, now = cursor.fetchone()
    assert at == now


@pytest.mark.parametrize("use_spare", [True, False])
def test_a_freshly_launched_tenant_has_its_own_trigger(use_spare):
    if not use_spare:
        SpareSchema.objects.all().delete()  # rolled back with the test: replay the snapshot
    result = launch("Новый", slug="novy")
    assert result.method == ("spare schema" if use_spare else "template")
    assert audit_triggers("novy") == [("audit_event_append_only", "novy",
                                        "audit_event_append_only"),
                                       ("audit_event_stamp", "novy", "audit_event_append_only")]
    with schema_context("novy"):
        created = AuditEvent.objects.get(kind=Kind.USER_CREATED)  # its first administrator
        assert created.summary == result.admin_email
        refused(lambda: AuditEvent.objects.all().delete())
        refused(raw("UPDATE novy.audit_auditevent SET summary = 'x'"))
    launched = events("public", Kind.TENANT_LAUNCHED)[-1]
    assert launched.summary == "novy" and launched.object_id == str(result.tenant.pk)


def test_the_template_and_spares_stay_empty():
    assert record(Kind.CONSOLE_ACTION, "x") is not None  # public
    for schema in ["dgbox_template", SpareSchema.objects.first().schema_name]:
        with schema_context(schema):
            assert record(Kind.CONSOLE_ACTION, "x") is None
            assert not AuditEvent.objects.exists()


# --- Tenant isolation ---------------------------------------------------------------------

def test_each_tenant_keeps_its_own_events(session_tenants):
    with schema_context("north"):
        record(Kind.CONSOLE_ACTION, "north only")
    with schema_context("south"):
        record(Kind.CONSOLE_ACTION, "south only")
    assert "north only" in [e.summary for e in events("north")]
    assert "north only" not in [e.summary for e in events("south")]
    assert "south only" not in [e.summary for e in events("north")]
    assert not {"north only", "south only"} & {e.summary for e in events("public")}


# --- Sign-in, failed sign-in, sign-out, lockout, 2FA ------------------------------------------

def test_sign_in_failure_and_sign_out_are_recorded(client, tenant_a):
    with tenant_context(tenant_a):
        StaffFactory(username="signer", password="a long password 1",
                     permissions=["wagtailadmin.access_admin"])
    ok = client.post("/admin/login/", {"username": "signer", "password": "a long password 1"},
                     REMOTE_ADDR="203.0.113.7", **NORTH)
    assert ok.status_code == 302
    assert len(ok["X-Request-ID"]) == 32
    client.post("/admin/logout/", **NORTH)
    client.post("/admin/login/", {"username": "signer", "password": "wrong"}, **NORTH)
    client.post("/admin/login/", {"username": "Анна Иванова", "password": "wrong"}, **NORTH)
    with tenant_context(tenant_a):
        user = get_user_model().objects.get(username="signer")
    signed_in = events("north", Kind.SIGN_IN)[-1]
    assert (signed_in.actor_id, signed_in.actor_display) == (user.pk, "signer")
    assert signed_in.client_address == "203.0.113.7"
    assert signed_in.request_id == ok["X-Request-ID"]
    assert events("north", Kind.SIGN_OUT)[-1].actor_id == user.pk
    known, unknown = events("north", Kind.SIGN_IN_FAILED)[-2:]
    assert known.object_id == str(user.pk) and known.actor_id is None
    assert unknown.details == {"username_hash": keyed_hash("Анна Иванова"),
                               "username_length": 12}
    assert "Анна" not in str(unknown.__dict__)  # no name in clear anywhere in the row
    assert not events("south", Kind.SIGN_IN)  # nothing in another tenant
    assert not [e for e in events("public", Kind.SIGN_IN) if e.actor_display == "signer"]


def test_lockout_and_second_factor_events(tenant_a):
    """The receivers django-axes' `user_locked_out` and django-otp's devices are connected to
    (when those apps are installed), called as those signals call them."""
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="198.51.100.4")
    with tenant_context(tenant_a):
        user = StaffFactory(username="locked")
        receivers.on_locked_out(sender=None, request=request, username="locked",
                                ip_address="198.51.100.4")
        receivers.on_locked_out(sender=None, request=request, username="someone@else.example")
        receivers.two_factor_added(user, "otp_totp.totpdevice", "Phone")
        receivers.two_factor_removed(user, "otp_totp.totpdevice", "Phone")
    locked, unknown = events("north", Kind.LOCKED_OUT)[-2:]
    assert locked.object_id == str(user.pk) and locked.client_address == "198.51.100.4"
    assert "someone" not in str(unknown.details) and unknown.details["username_length"] == 20
    added = events("north", Kind.TWO_FACTOR_ADDED)[-1]
    removed = events("north", Kind.TWO_FACTOR_REMOVED)[-1]
    assert added.object_id == removed.object_id == str(user.pk)
    assert added.details == {"device": "otp_totp.totpdevice", "name": "Phone"}


# --- Users, groups and permissions ---------------------------------------------------------

def test_user_group_and_permission_changes_are_recorded(tenant_a):
    with tenant_context(tenant_a):
        user = StaffFactory(username="worker")
        editors, _ = Group.objects.get_or_create(name="Editors")
        moderators, _ = Group.objects.get_or_create(name="Moderators")
        view_case = Permission.objects.get(codename="view_case")
        user.groups.add(editors, moderators)
        user.groups.remove(moderators)
        moderators.user_set.add(user)  # the other way round
        user.groups.clear()
        user.user_permissions.add(view_case)
        editors.permissions.add(view_case)
        editors.permissions.remove(view_case)
        user.is_superuser = True
        user.save()
        user.is_active = False
        user.save()
        user.save(update_fields=["last_login"])  # no event
    rows = [(e.kind, e.details) for e in events("north") if e.object_id in
            {str(user.pk), str(editors.pk)}]
    assert rows == [
        (Kind.USER_CREATED, {"is_active": True, "is_superuser": False, "is_staff": False}),
        (Kind.USER_GROUPS_CHANGED, {"added": ["Editors", "Moderators"]}),
        (Kind.USER_GROUPS_CHANGED, {"removed": ["Moderators"]}),
        (Kind.USER_GROUPS_CHANGED, {"added": ["Moderators"]}),
        (Kind.USER_GROUPS_CHANGED, {"removed": ["Editors", "Moderators"]}),
        (Kind.USER_PERMISSIONS_CHANGED, {"added": ["services.view_case"]}),
        (Kind.GROUP_PERMISSIONS_CHANGED, {"added": ["services.view_case"]}),
        (Kind.GROUP_PERMISSIONS_CHANGED, {"removed": ["services.view_case"]}),
        (Kind.USER_ROLE_CHANGED, {"is_superuser": True}),
        (Kind.USER_DEACTIVATED, {}),
    ]


# --- Tenant lifecycle (public schema) -----------------------------------------------------

def test_lifecycle_events_go_to_the_public_schema(session_tenants):
    launch("Жизнь", slug="zhizn")
    with schema_context("north"):  # whatever schema the caller is serving
        lifecycle.suspend("zhizn")
        lifecycle.resume("zhizn")
        lifecycle.archive("zhizn")
    kinds = [e.kind for e in events("public") if e.summary == "zhizn"]
    assert kinds == [Kind.TENANT_LAUNCHED, Kind.TENANT_SUSPENDED, Kind.TENANT_RESUMED,
                     Kind.TENANT_ARCHIVED]
    assert all(e.actor_display.startswith("system: ") for e in events("public")
               if e.summary == "zhizn")
    assert not [e for e in events("north") if e.summary == "zhizn"]


# --- Cases: detail views, files, exports ----------------------------------------------------

@pytest.fixture
def case_worker(client, tenant_a):
    with tenant_context(tenant_a):
        worker = StaffFactory(username="caseworker", first_name="Case", last_name="Worker",
                              permissions=["wagtailadmin.access_admin", "services.view_case"])
        service = OnlineServiceFactory(spec=[
            {"type": "text", "name": "purpose", "label": "Purpose", "required": True}])
        case = make_cases(service, 1, applicant_name="Анна Иванова",
                          applicant_email="anna@example.org")[0]
        client.force_login(worker)
    return {"user": worker, "case": case}


def test_case_views_and_exports_are_recorded(client, case_worker):
    case, worker = case_worker["case"], case_worker["user"]
    assert client.get(f"/admin/cases/{case.pk}/", **NORTH).status_code == 200
    assert client.post(f"/admin/cases/{case.pk}/export/", **NORTH).status_code == 200
    viewed = events("north", Kind.CASE_VIEWED)[-1]
    exported = events("north", Kind.CASE_EXPORTED)[-1]
    for event in (viewed, exported):
        assert (event.actor_id, event.actor_display) == (worker.pk, "Case Worker <caseworker>")
        assert (event.object_type, event.object_id) == ("services.case", str(case.pk))
        assert event.summary == case.reference
        assert "anna" not in str(event.details).lower()
    # Another tenant's staff cannot open the case, and nothing is recorded there.
    assert client.get(f"/admin/cases/{case.pk}/", **SOUTH).status_code in (302, 404)
    assert not events("south", Kind.CASE_VIEWED)


def test_file_views_are_recorded(client, tenant_a, case_worker, s3_bucket):
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from services.models import UploadedFile

    case = case_worker["case"]
    with tenant_context(tenant_a):
        name = storages["private"].save("uploads/audit/plan.pdf", ContentFile(b"%PDF-1.4"))
        stored = UploadedFile.objects.create(
            case=case, field_name="plan", size=8, storage_name=name, original_name="plan.pdf",
            extension="pdf", content_type="application/pdf", sha256="0" * 64)
    response = client.get(f"/admin/cases/files/{stored.pk}/", **NORTH)
    assert response.status_code == 200
    viewed = events("north", Kind.FILE_VIEWED)[-1]
    assert (viewed.object_type, viewed.object_id) == ("services.uploadedfile", str(stored.pk))
    assert viewed.details == {"case": case.pk, "field": "plan"}
    assert viewed.actor_id == case_worker["user"].pk


def test_case_reads_outside_a_request_are_not_attributed_to_anyone_else(tenant_a):
    with tenant_context(tenant_a):
        assert Case.objects.count() >= 0
        event = record(Kind.CASE_VIEWED, "R-1")
    assert event.actor_id is None and event.actor_display.startswith("system: ")


# --- Screens: the tenant's log in its admin, the platform's in the console -----------------

PORTAL = {"HTTP_HOST": "localhost"}


@pytest.fixture
def north_admin(client, tenant_a):
    with tenant_context(tenant_a):
        admin = get_user_model().objects.get(email="admin@north.example")
        client.force_login(admin)
    return admin


def test_tenant_admin_reads_and_filters_the_log(client, tenant_a, north_admin):
    with schema_context("north"):
        for i in range(55):
            record(Kind.CONSOLE_ACTION, f"bulk {i}")
        record(Kind.CASE_EXPORTED, "R-42")
    with schema_context("south"):
        record(Kind.CASE_EXPORTED, "SOUTH-ONLY")
    page = client.get("/admin/audit/", **NORTH)
    assert page.status_code == 200 and "no-cache" in page["Cache-Control"]
    html = page.content.decode()
    assert "R-42" in html and "SOUTH-ONLY" not in html
    assert "bulk 54" in html and "bulk 0" not in html  # 50 a page, newest first
    older = client.get("/admin/audit/", {"page": 2}, **NORTH).content.decode()
    assert "bulk 0" in older and "R-42" not in older
    only = client.get("/admin/audit/", {"kind": "case_exported"}, **NORTH).content.decode()
    assert "R-42" in only and "bulk 1" not in only
    today = timezone.localdate()
    assert "R-42" in client.get("/admin/audit/", {"since": today, "until": today},
                                **NORTH).content.decode()
    assert "R-42" not in client.get("/admin/audit/", {"until": today - timedelta(days=1)},
                                    **NORTH).content.decode()
    mine = client.get("/admin/audit/", {"actor": "system:"}, **NORTH).content.decode()
    assert "R-42" in mine
    assert "R-42" not in client.get("/admin/audit/", {"actor": "nobody-at-all"},
                                    **NORTH).content.decode()
    bad = client.get("/admin/audit/", {"since": today, "until": today - timedelta(days=2)},
                     **NORTH)
    assert "Начальная дата позже конечной." in bad.content.decode()  # the admin reads Russian


def test_csv_export_has_exactly_the_filtered_rows_and_is_recorded(client, north_admin):
    with schema_context("north"):
        record(Kind.CASE_EXPORTED, "=HYPERLINK(\"x\")", details={"format": "json"})
        record(Kind.CONSOLE_ACTION, "not exported")
    response = client.get("/admin/audit/", {"kind": "case_exported", "export": "csv"}, **NORTH)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["at", "kind", "kind_label", "actor_id", "actor", "client_address",
                       "object_type", "object_id", "summary", "details", "request_id"]
    assert {r[1] for r in rows[1:]} == {"case_exported"}
    last = rows[1]  # newest first
    assert last[8] == "'=HYPERLINK(\"x\")"  # never a formula in a spreadsheet
    assert json.loads(last[9]) == {"format": "json"}
    exported = events("north", Kind.AUDIT_EXPORTED)[-1]
    assert exported.actor_id == north_admin.pk
    assert exported.details == {"filters": {"kind": "case_exported"}}


@pytest.mark.parametrize("group", ["Editors", "Moderators", workflowspec.STAFF_GROUP])
def test_editors_moderators_and_case_workers_cannot_see_the_log(client, tenant_a, group):
    with tenant_context(tenant_a):
        user = StaffFactory(username=f"u{abs(hash(group)) % 1000}",
                            permissions=["wagtailadmin.access_admin", "services.view_case"],
                            groups=[group])
        client.force_login(user)
    # Wagtail answers a refusal in its admin with a redirect to the dashboard and a message.
    for params in ({}, {"export": "csv"}):
        response = client.get("/admin/audit/", params, **NORTH)
        assert response.status_code == 302 and response["Location"] == "/admin/"
    assert "/admin/audit/" not in client.get("/admin/", **NORTH).content.decode()


def test_a_tenant_admin_never_sees_another_tenants_rows(client, tenant_b):
    with schema_context("north"):
        record(Kind.CASE_VIEWED, "NORTH-SECRET")
    with tenant_context(tenant_b):
        client.force_login(get_user_model().objects.get(email="admin@south.example"))
    page = client.get("/admin/audit/", **SOUTH)
    assert page.status_code == 200 and "NORTH-SECRET" not in page.content.decode()
    export = client.get("/admin/audit/", {"export": "csv"}, **SOUTH).content.decode()
    assert "NORTH-SECRET" not in export
    assert client.get("/admin/audit/", **NORTH).status_code == 302  # B's session is no login


def test_operators_read_the_platform_log_in_the_console(client, session_tenants):
    operator = get_user_model().objects.create_user("auditor", "auditor@example.org", "x",
                                                    is_staff=True)
    operator.user_permissions.add(Permission.objects.get(codename="view_tenant"))
    record(Kind.TENANT_SUSPENDED, "platform-event")
    with schema_context("north"):
        record(Kind.CASE_VIEWED, "TENANT-EVENT")
    client.force_login(operator)
    page = client.get("/operator/audit/", {"kind": "tenant_suspended"}, **PORTAL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "platform-event" in html and "TENANT-EVENT" not in html
    export = client.get("/operator/audit/", {"export": "csv"}, **PORTAL).content.decode()
    assert "platform-event" in export and "TENANT-EVENT" not in export
    assert events("public", Kind.AUDIT_EXPORTED)[-1].actor_id == operator.pk


def test_the_console_log_is_for_operators_only(client, tenant_a):
    plain = get_user_model().objects.create_user("plain", "plain@example.org", "x")
    client.force_login(plain)
    assert client.get("/operator/audit/", **PORTAL).status_code == 403
