"""Case work over the API (services/api/cases.py), as a client's service account.

- The list is the staff inbox of a person in the account's groups, less the cases routed to
  a group the account is not in; filters narrow it, keyset pages cover it exactly once, and
  its query count does not grow with the rows.
- A case reads in full (answers, files through an authenticated download, history, notes,
  the steps the account may take with what they require); reading it is audited.
- Transitions go through the engine: wrong group 403, missing field 400 with `errors`, a
  stale `expected_state` 409, two racing requests: one wins, one 409.
- Notes; every write names the service account and "via API client"; tenant isolation; a
  client without the scope or without a service account gets a 403 problem.
- Cyrillic, NUL and lone surrogates in filters, bodies and paths are 400/404, never 500.
"""

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.api.models import ApiClient
from services.api.scopes import Scope
from services.applications.models import UploadedFile, private_storage
from services.models import Case, CaseEvent, CaseNote, OnlineService
from services.notifications.models import Message
from services.workflows import spec as workflowspec
from tenants.audit.models import AuditEvent
from tenants.audit.models import Kind as AuditKind

from .factories import (
    NORTH,
    PDF,
    PERMIT_SPEC,
    SOUTH,
    WITH_VISIT,
    CaseFactory,
    OnlineServiceFactory,
    StaffFactory,
    WorkflowFactory,
    make_cases,
)

pytestmark = pytest.mark.django_db
CASES = "/api/v1/cases"
CLIENT_NAME = "Архив МФЦ"
FILE_SPEC = [*PERMIT_SPEC, {"type": "file", "name": "plan", "label": "План участка",
                            "required": False, "file_kinds": ["pdf"], "max_size_mb": 1}]


def make_client(name=CLIENT_NAME, *, scopes=(Scope.CASE_WORK,), groups=(workflowspec.STAFF_GROUP,),
                account=True, **account_fields):
    """An API client with a key; its service account (unless `account` is False) a member of
    staff in `groups` (the case workers' group carries services.view_case)."""
    user = None
    if account:
        user = StaffFactory(username=f"svc-{uuid.uuid4().hex[:6]}", first_name="Шлюз",
                            last_name="МФЦ", groups=list(groups), **account_fields)
    client = ApiClient.objects.create(name=name, scopes=list(scopes), service_user=user)
    _key, plaintext = client.issue_key()
    return client, user, plaintext


@pytest.fixture
def north(tenant_a):
    with tenant_context(tenant_a):
        service = OnlineServiceFactory(spec=PERMIT_SPEC)
        client, account, key = make_client()
    connection.set_schema_to_public()
    return {"tenant": tenant_a, "service": service, "client": client, "account": account,
            "key": key}


def call(key, path=CASES, *, method="get", host=NORTH, params=None, body=None, raw=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {key}", **host} if key else dict(host)
    http = Client()
    if method == "get":
        return http.get(path, params or {}, **extra)
    data = raw if raw is not None else json.dumps(body, ensure_ascii=False)
    return http.generic("POST", path, data.encode() if isinstance(data, str) else data,
                        content_type="application/json", **extra)


def refs(response):
    assert response.status_code == 200, response.content[:500]
    return [row["reference"] for row in response.json()["results"]]


def listed(key, host=NORTH, **params):
    return set(refs(call(key, params=params, host=host)))


# --- The list ---------------------------------------------------------------------------------


def test_the_list_is_the_inbox_of_the_accounts_groups_less_other_groups_cases(north, client):
    with tenant_context(north["tenant"]):
        mine = make_cases(north["service"], 3)
        routed_here = make_cases(north["service"], 1, group=workflowspec.STAFF_GROUP,
                                 reference="INB-2026-900001")
        routed_away = make_cases(north["service"], 1, group="Heritage",
                                 reference="INB-2026-900002")
        closed = make_cases(north["service"], 1, reference="INB-2026-900003",
                            status="approved", closed_at=timezone.now())
        person = StaffFactory(username="anna", groups=[workflowspec.STAFF_GROUP],
                              permissions=["wagtailadmin.access_admin"])
        client.force_login(person)
    connection.set_schema_to_public()
    inbox = client.get("/admin/cases/", **NORTH).content.decode()
    api = listed(north["key"])
    assert api == {c.reference for c in mine + routed_here}
    # Never more than the inbox shows: every case listed is in the person's inbox; the one
    # routed to another group is in the inbox but not in the API; closed ones in neither.
    assert all(reference in inbox for reference in api)
    assert routed_away[0].reference in inbox and routed_away[0].reference not in api
    assert closed[0].reference not in inbox and closed[0].reference not in api
    assert listed(north["key"], closed="closed") == {closed[0].reference}


def test_a_row_says_what_the_inbox_row_says(north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1, applicant_name="Пётр Сидоров",
                          assignee=north["account"],
                          due_date=timezone.localdate() - timedelta(days=1))[0]
    connection.set_schema_to_public()
    row = call(north["key"]).json()["results"][0]
    assert row["reference"] == case.reference
    assert row["url"] == f"http://north.localhost/api/v1/cases/{case.reference}"
    assert row["service"]["slug"] == "building-permit" and row["service"]["title"]
    assert (row["status"], row["status_label"]) == ("received", "Получено")
    assert row["assignee"] == {"id": north["account"].pk, "name": "Шлюз МФЦ"}
    assert row["applicant_name"] == "Пётр Сидоров"
    assert row["sla"] == "overdue"


@pytest.fixture
def varied(north):
    """Eight cases that differ in one thing each from case 0."""
    today = timezone.localdate()
    with tenant_context(north["tenant"]):
        other = OnlineServiceFactory(slug="street-trading", spec=PERMIT_SPEC)
        olga = StaffFactory(username="olga", groups=[workflowspec.STAFF_GROUP])
        specs = [
            {},
            {"status": "in_review"},
            {"service": other},
            {"group": workflowspec.STAFF_GROUP},
            {"assignee": north["account"]},
            {"assignee": olga},
            {"due_date": today - timedelta(days=3)},
            {"due_date": today, "channel": "office"},
        ]
        cases = make_cases(north["service"], len(specs), each=lambda i: {
            "reference": f"FLT-2026-{i + 1:06d}", **specs[i]})
        old = timezone.now() - timedelta(days=40)
        Case.objects.filter(pk=cases[1].pk).update(submitted_at=old, updated_at=old)
    connection.set_schema_to_public()
    return {"refs": [c.reference for c in cases], "olga": olga, **north}


@pytest.mark.parametrize(("params", "expected"), [
    ({"status": "in_review"}, [1]),
    ({"status": "in_review,received"}, [0, 1, 2, 3, 4, 5, 6, 7]),
    ({"service": "street-trading"}, [2]),
    ({"group": workflowspec.STAFF_GROUP}, [3]),
    ({"group": ""}, [0, 1, 2, 4, 5, 6, 7]),
    ({"assignee": "me"}, [4]),
    ({"assignee": "none"}, [0, 1, 2, 3, 6, 7]),
    ({"sla": "overdue"}, [6]),
    ({"sla": "nearing"}, [7]),
    ({"channel": "office"}, [7]),
    ({"reference": "FLT-2026-000003"}, [2]),
    ({"reference": " flt-2026-000003 "}, [2]),
    ({"reference": "00000"}, [0, 1, 2, 3, 4, 5, 6, 7]),
    ({"submitted_until": "{old}"}, [1]),
    ({"submitted_since": "{recent}"}, [0, 2, 3, 4, 5, 6, 7]),
    ({"updated_since": "{recent}"}, [0, 2, 3, 4, 5, 6, 7]),
    ({"reference": "Дело"}, []),
    ({"service": "вырубка-деревьев"}, []),
    ({"group": "Инспекторы"}, []),
])
def test_filters(varied, params, expected):
    day = timezone.localdate()
    dates = {"old": (day - timedelta(days=30)).isoformat(),
             "recent": (timezone.now() - timedelta(days=1)).isoformat()}
    params = {k: v.format(**dates) for k, v in params.items()}
    assert listed(varied["key"], **params) == {varied["refs"][i] for i in expected}


def test_assignee_by_id(varied):
    assert listed(varied["key"], assignee=str(varied["olga"].pk)) == {varied["refs"][5]}


@pytest.mark.parametrize(("params", "field"), [
    ({"status": "not a code"}, "status"),
    ({"status": "получено"}, "status"),
    ({"sla": "late"}, "sla"),
    ({"assignee": "somebody"}, "assignee"),
    ({"assignee": "9" * 40}, "assignee"),
    ({"submitted_since": "вчера"}, "submitted_since"),
    ({"submitted_since": "2026-13-01"}, "submitted_since"),
    ({"service": "x" * 300}, "service"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"closed": "maybe"}, "closed"),
    ({"cursor": "forged"}, "cursor"),
])
def test_bad_filters_are_400_problems_naming_the_field(north, params, field):
    response = call(north["key"], params=params)
    assert response.status_code == 400, (params, response.content[:300])
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


@pytest.mark.parametrize("params", [{"status": "received\x00"}, {"updated_since": "\x00"},
                                    {"reference": "INB\x00"}, {"group": "Case\x00workers"}])
def test_nul_in_a_filter_is_a_400_problem(north, params):
    # Refused before any view by dgbox/middleware.py (PostgreSQL cannot hold a NUL).
    response = call(north["key"], params=params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_pages_follow_the_inbox_order_and_cover_every_case_once(north):
    today = timezone.localdate()
    with tenant_context(north["tenant"]):
        # Due dates repeat, some have none (listed last): ties are broken by submission, id.
        cases = make_cases(north["service"], 11, each=lambda i: {
            "due_date": None if i % 4 == 0 else today + timedelta(days=i % 3)})
        same = timezone.now() - timedelta(hours=1)
        Case.objects.filter(pk__in=[c.pk for c in cases[:6]]).update(submitted_at=same)
        expected = list(Case.objects.filter(pk__in=[c.pk for c in cases])
                        .order_by("due_date", "submitted_at", "id")
                        .values_list("reference", flat=True))
    connection.set_schema_to_public()
    seen, url, pages = [], f"{CASES}?limit=3", 0
    while url:
        body = call(north["key"], url.replace("http://north.localhost", "")).json()
        seen += [row["reference"] for row in body["results"]]
        url, pages = body["next"], pages + 1
    assert seen == expected  # PostgreSQL sorts NULL due dates last in ascending order
    assert pages == 4


def count_queries(fn):
    """(queries `fn` ran, its result), counted at the cursor: the test client's request
    resets connection.queries, which CaptureQueriesContext slices by position."""
    sql = []

    def counter(execute, query, params, many, context):
        sql.append(query)
        return execute(query, params, many, context)

    with connection.execute_wrapper(counter):
        result = fn()
    return sql, result


def test_the_query_count_does_not_grow_with_the_rows(north):
    with tenant_context(north["tenant"]):
        make_cases(north["service"], 2, assignee=north["account"])
    connection.set_schema_to_public()
    call(north["key"])  # the key's last use is written once a minute: not in the count;
    # the connection is on the tenant's schema from here (no SET search_path counted)
    few, rows = count_queries(lambda: refs(call(north["key"])))
    assert len(rows) == 2
    with tenant_context(north["tenant"]):
        other = OnlineServiceFactory(slug="street-trading", spec=PERMIT_SPEC)
        make_cases(other, 40, assignee=north["account"])
        make_cases(north["service"], 40, group=workflowspec.STAFF_GROUP)
    connection.set_schema_to_public()
    call(north["key"])
    many, rows = count_queries(lambda: refs(call(north["key"], params={"limit": "100"})))
    assert len(rows) == 82
    assert len(many) == len(few), "\n".join(many)
    # key, the account's permissions (2) and groups, the page, services, workflow versions
    assert len(few) <= 8, "\n".join(few)


# --- One case ---------------------------------------------------------------------------------


@pytest.fixture
def full_case(north):
    """A case with an uploaded file (in the tenant's private S3 prefix), a note, an event."""
    with tenant_context(north["tenant"]):
        service = OnlineServiceFactory(slug="street-trading", spec=FILE_SPEC)
        case = CaseFactory(service=service, reference="DET-2026-000001",
                           applicant_name="Анна Иванова", applicant_email="anna@example.org",
                           answers={"floors": "5", "heritage": "no"})
        name = private_storage().save(f"uploads/{uuid.uuid4().hex}.pdf", ContentFile(PDF))
        stored = UploadedFile.objects.create(
            case=case, field_name="plan", storage_name=name, original_name="план.pdf",
            extension="pdf", content_type="application/pdf", size=len(PDF), sha256="0" * 64)
        case.answers["plan"] = {"file": str(stored.pk), "name": "план.pdf", "size": len(PDF)}
        case.save()
        CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.SUBMITTED, public=True,
                                 actor_role="applicant",
                                 data={"channel": "online", "form_version": 1})
        CaseNote.objects.create(case=case, author=north["account"], text="Проверить план")
    connection.set_schema_to_public()
    return {"case": case, "file": stored, **north}


def test_a_case_reads_in_full_and_the_read_is_audited(full_case):
    response = call(full_case["key"], f"{CASES}/det-2026-000001")
    assert response.status_code == 200, response.content[:500]
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["reference"] == "DET-2026-000001"
    assert body["applicant"]["name"] == "Анна Иванова"
    answers = {a["name"]: a for a in body["answers"]}
    assert answers["floors"]["value"] == "5" and answers["floors"]["label"] == "Floors"
    assert answers["heritage"]["raw"] == "no"
    link = f"http://north.localhost{CASES}/DET-2026-000001/files/{full_case['file'].pk}"
    assert answers["plan"]["file"]["download"] == link
    assert body["files"] == [answers["plan"]["file"]]
    assert "s3" not in json.dumps(body) and "uploads/" not in json.dumps(body)
    assert [e["kind"] for e in body["events"]] == ["submitted"]
    assert [n["text"] for n in body["notes"]] == ["Проверить план"]
    steps = {t["code"]: t for t in body["transitions"]}
    assert set(steps) == {"start_review", "request_info", "approve", "refuse", "withdraw"}
    assert steps["refuse"]["requires"] == [{"field": "reason", "label": "Причина решения"}]
    assert steps["approve"]["ends_case"] and not steps["start_review"]["ends_case"]
    with tenant_context(full_case["tenant"]):
        event = AuditEvent.objects.get(kind=AuditKind.CASE_VIEWED, summary="DET-2026-000001")
    assert event.actor_id == full_case["account"].pk
    assert event.actor_display.endswith(f"via API client {CLIENT_NAME}")
    assert event.details["api_client_name"] == CLIENT_NAME


def test_a_file_downloads_with_the_key_only_and_is_recorded(full_case):
    path = f"{CASES}/DET-2026-000001/files/{full_case['file'].pk}"
    assert call(None, path).status_code == 401
    response = call(full_case["key"], path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert call(full_case["key"], f"{CASES}/DET-2026-000001/files/{uuid.uuid4()}"
                ).status_code == 404
    with tenant_context(full_case["tenant"]):
        viewed = CaseEvent.objects.get(case=full_case["case"], kind="file_viewed")
        audited = AuditEvent.objects.get(kind=AuditKind.FILE_VIEWED,
                                         summary="DET-2026-000001")
    assert viewed.actor_id == full_case["account"].pk
    assert viewed.data["via_api_client"]["name"] == CLIENT_NAME
    assert audited.actor_id == full_case["account"].pk and "via API client" in \
        audited.actor_display


@pytest.mark.parametrize(("reference", "code"), [
    ("NOPE-2026-000001", 404), ("Дело-1", 404), ("x" * 500, 404), ("%ED%A0%80", 404),
    ("%00", 400),  # refused before routing by dgbox/middleware.py
])
def test_unknown_or_odd_references_are_problems(north, reference, code):
    response = call(north["key"], f"{CASES}/{reference}")
    assert response.status_code == code
    assert response["Content-Type"] == "application/problem+json"


def test_a_case_routed_to_another_group_cannot_be_read_or_moved(north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1, group="Heritage")[0]
    connection.set_schema_to_public()
    assert call(north["key"], f"{CASES}/{case.reference}").status_code == 404
    response = call(north["key"], f"{CASES}/{case.reference}/transitions", method="post",
                    body={"transition": "approve", "expected_state": "received"})
    assert response.status_code == 404


# --- Transitions ------------------------------------------------------------------------------


def take(key, reference, transition, expected="received", **values):
    return call(key, f"{CASES}/{reference}/transitions", method="post",
                body={"transition": transition, "expected_state": expected, "values": values})


def test_a_transition_goes_through_the_engine_as_the_service_account(north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    response = take(north["key"], case.reference, "refuse",
                    reason="Участок в охранной зоне — отказ")
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert body["status"] == "refused" and body["transitions"] == []
    assert body["decision_reason"] == "Участок в охранной зоне — отказ"
    assert body["events"][-1]["via_api_client"] == CLIENT_NAME
    with tenant_context(north["tenant"]):
        event = CaseEvent.objects.get(case=case, kind="status")
        assert Case.objects.get(pk=case.pk).closed_at is not None
    assert event.actor_id == north["account"].pk and event.actor_role == "staff"
    assert event.data["transition"] == "refuse" and event.data["from"] == "received"
    assert event.data["via_api_client"] == {"id": north["client"].pk, "name": CLIENT_NAME}


def test_a_step_of_another_group_is_a_403_problem(north):
    with tenant_context(north["tenant"]):
        workflow = WorkflowFactory(definition=WITH_VISIT)
        version = workflow.current_version()
        case = make_cases(north["service"], 1, status="in_review")[0]
        Case.objects.filter(pk=case.pk).update(workflow_version=version)
    connection.set_schema_to_public()
    detail = call(north["key"], f"{CASES}/{case.reference}").json()
    assert "plan_visit" not in {t["code"] for t in detail["transitions"]}
    response = take(north["key"], case.reference, "plan_visit", "in_review", note="Выезд")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "Inspectors" in response.json()["detail"]
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=case.pk).status == "in_review"
        inspector = make_client("Инспекция", groups=["Inspectors", workflowspec.STAFF_GROUP])
    connection.set_schema_to_public()
    assert take(inspector[2], case.reference, "plan_visit", "in_review",
                note="Выезд").status_code == 200


@pytest.mark.parametrize(("values", "missing"), [
    ({}, "reason"), ({"reason": ""}, "reason"), ({"reason": "   \n"}, "reason"),
])
def test_a_missing_required_field_is_a_400_with_errors(north, values, missing):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    response = take(north["key"], case.reference, "refuse", **values)
    assert response.status_code == 400
    # One message for the missing field, in the tenant's language (Russian here).
    errors = response.json()["errors"]
    assert list(errors) == ["values"] and list(errors["values"]) == [missing]
    assert len(errors["values"][missing]) == 1 and errors["values"][missing][0]
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=case.pk).status == "received"
        assert not CaseEvent.objects.filter(case=case).exists()


def test_a_stale_expected_state_is_a_409_and_changes_nothing(north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    assert take(north["key"], case.reference, "start_review").status_code == 200
    response = take(north["key"], case.reference, "approve", "received")
    assert response.status_code == 409
    assert "Рассматривается" in response.json()["detail"]  # the state it is in now
    # The state it is in now, but a step that does not leave from it: 409 too.
    assert take(north["key"], case.reference, "start_review", "in_review").status_code == 409
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=case.pk).status == "in_review"


@pytest.mark.parametrize(("raw", "code", "field"), [
    ({"transition": "fly_away", "expected_state": "received"}, 400, "transition"),
    ({"transition": "Одобрить", "expected_state": "received"}, 400, "transition"),
    ({"expected_state": "received"}, 400, "transition"),
    ({"transition": "approve"}, 400, "expected_state"),
    ({"transition": "refuse", "expected_state": "received", "values": {"reason": "a\x00b"}},
     400, "values"),
    ({"transition": "refuse", "expected_state": "received", "values": {"reason": "я" * 4001}},
     400, "values"),
    ({"transition": "refuse", "expected_state": "received", "values": {"причина": "x"}},
     400, "values"),
    ({"transition": "refuse", "expected_state": "received", "values": ["x"]}, 400, "values"),
    ('{"transition": "refuse", "expected_state": "received", "values": {"reason": "\\ud800"}}',
     400, "values"),
    ('{"transition": ', 400, None),
    ("[]", 400, None),
])
def test_bad_transition_bodies_are_400_problems(north, raw, code, field):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    response = call(north["key"], f"{CASES}/{case.reference}/transitions", method="post",
                    raw=raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False))
    assert response.status_code == code, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert field in response.json()["errors"]
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=case.pk).status == "received"


def test_a_form_body_is_refused_with_415(north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    response = Client().post(f"{CASES}/{case.reference}/transitions",
                             {"transition": "approve", "expected_state": "received"},
                             HTTP_AUTHORIZATION=f"Bearer {north['key']}", **NORTH)
    assert response.status_code == 415


def test_two_racing_transitions_one_wins_one_conflicts(tenant_a, in_thread):
    """Two requests, each on its own connection, take different steps from the same state
    at the same moment: the engine's row lock lets one through, the other gets 409."""

    def prepare():
        with tenant_context(tenant_a):
            case = CaseFactory(reference="RCE-2026-000001")
            api_client, account, key = make_client("Гонка")
            return case.pk, case.service_id, api_client.pk, account.pk, key

    case_pk, service_pk, client_pk, account_pk, key = in_thread(prepare)
    barrier = threading.Barrier(2)
    outcomes = []

    def act(transition, values):
        barrier.wait(30)
        response = take(key, "RCE-2026-000001", transition, **values)
        outcomes.append((response.status_code, transition))

    threads = [threading.Thread(target=in_thread, args=(act, "approve", {})),
               threading.Thread(target=in_thread, args=(act, "refuse", {"reason": "Нет"}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    def final_and_clean():
        with tenant_context(tenant_a):
            case = Case.objects.get(pk=case_pk)
            found = case.status, list(case.events.filter(kind="status").values_list(
                "actor_id", flat=True))
            Message.objects.filter(topic=case.reference).delete()
            case.delete()
            OnlineService.objects.filter(pk=service_pk).delete()
            ApiClient.objects.filter(pk=client_pk).delete()
            get_user_model().objects.filter(pk=account_pk).delete()
            return found

    status, actors = in_thread(final_and_clean)
    assert sorted(code for code, _step in outcomes) == [200, 409]
    winner = next(step for code, step in outcomes if code == 200)
    assert status == {"approve": "approved", "refuse": "refused"}[winner]
    assert actors == [account_pk]


# --- Notes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Позвонил заявителю, ждём справку 📎", "x" * 4000,
                                  "  отступы  \n сохранены по краям обрезаны"])
def test_a_note_is_added_as_the_service_account(north, text):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    response = call(north["key"], f"{CASES}/{case.reference}/notes", method="post",
                    body={"text": text})
    assert response.status_code == 201, response.content[:300]
    assert response.json()["text"] == text.strip()
    assert response.json()["author"] == "Шлюз МФЦ"
    with tenant_context(north["tenant"]):
        note = CaseNote.objects.get(case=case)
        event = CaseEvent.objects.get(case=case, kind="note")
    assert note.author_id == north["account"].pk and note.text == text.strip()
    assert event.actor_id == north["account"].pk
    assert event.data == {"note": note.pk, "via_api_client": {"id": north["client"].pk,
                                                              "name": CLIENT_NAME}}


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "   "}, {"text": "a\x00b"},
                                  {"text": "x" * 4001}, {}, {"text": ["list"]}])
def test_a_bad_note_is_a_400_and_nothing_is_written(north, body):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    connection.set_schema_to_public()
    response = call(north["key"], f"{CASES}/{case.reference}/notes", method="post", body=body)
    assert response.status_code == 400
    assert "text" in response.json()["errors"]
    with tenant_context(north["tenant"]):
        assert not CaseNote.objects.filter(case=case).exists()


# --- Who may call -----------------------------------------------------------------------------


def test_a_key_of_one_tenant_cannot_read_anothers_cases(north, tenant_b):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
    with tenant_context(tenant_b):
        OnlineServiceFactory(spec=PERMIT_SPEC)
        _client, _account, south_key = make_client()
    connection.set_schema_to_public()
    assert call(north["key"], host=SOUTH).status_code == 401
    assert call(north["key"], f"{CASES}/{case.reference}", host=SOUTH).status_code == 401
    # South's own key on South does not find North's case, even by its exact reference.
    assert call(south_key, f"{CASES}/{case.reference}", host=SOUTH).status_code == 404
    assert listed(south_key, host=SOUTH) == set()


# The problems' details, in the test tenant's language (Russian): "needs an API key", "does
# not have the scope", "has no service account", "is deactivated", "the case worker role".
@pytest.mark.parametrize(("kind", "code", "words"), [
    ("no key", 401, "нужен ключ API"),
    ("no scope", 403, "нет права"),
    ("no account", 403, "нет служебной учётной записи"),
    ("inactive account", 403, "отключена"),
    ("account not a case worker", 403, "роль специалиста"),
])
def test_who_may_not_do_case_work(north, kind, code, words):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 1)[0]
        key = None
        if kind == "no scope":
            key = make_client("Каталог", scopes=[Scope.READ_CATALOGUE])[2]
        elif kind == "no account":
            key = make_client("Без учётной записи", account=False)[2]
        elif kind == "inactive account":
            key = make_client("Уволен", is_active=False)[2]
        elif kind == "account not a case worker":
            key = make_client("Инспекция", groups=["Inspectors"])[2]
    connection.set_schema_to_public()
    for path, method, body in [(CASES, "get", None), (f"{CASES}/{case.reference}", "get", None),
                               (f"{CASES}/{case.reference}/transitions", "post",
                                {"transition": "approve", "expected_state": "received"}),
                               (f"{CASES}/{case.reference}/notes", "post", {"text": "x"})]:
        response = call(key, path, method=method, body=body)
        assert response.status_code == code, (kind, path, response.content[:300])
        assert response["Content-Type"] == "application/problem+json"
        assert words in response.json()["detail"], response.json()
    with tenant_context(north["tenant"]):
        assert Case.objects.get(pk=case.pk).status == "received"
        assert not CaseNote.objects.filter(case=case).exists()



# --- Hostile input with a valid key -------------------------------------------------------------

HOSTILE = st.one_of(st.text(st.characters(exclude_categories=()), max_size=40),
                    st.sampled_from(["\x00", "\ud800", "ж" * 5000, "9" * 400, "-1", "",
                                     "2026-02-30", "1e309", "me", "none", "overdue"]))
FILTER_NAMES = ["status", "service", "group", "assignee", "sla", "channel", "closed",
                "submitted_since", "submitted_until", "updated_since", "reference", "cursor",
                "limit"]
JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), HOSTILE),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(HOSTILE, inner, max_size=3)),
                    max_leaves=8)


def test_hostile_filters_and_bodies_never_get_a_server_error(north):
    with tenant_context(north["tenant"]):
        case = make_cases(north["service"], 2)[0]
    connection.set_schema_to_public()
    path = f"{CASES}/{case.reference}"

    @settings(max_examples=40, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(params=st.dictionaries(st.sampled_from(FILTER_NAMES), HOSTILE, max_size=4),
           body=st.one_of(JSON, st.fixed_dictionaries(
               {"transition": st.sampled_from(["approve", "refuse", "withdraw"]),
                "expected_state": st.one_of(st.just("received"), HOSTILE),
                "values": st.dictionaries(st.sampled_from(["reason", "note", "message"]),
                                          HOSTILE)})),
           note=JSON)
    def fuzz(params, body, note):
        safe = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                for k, v in params.items()}
        assert call(north["key"], params=safe).status_code < 500
        raw = json.dumps(body)  # ASCII with \\u escapes: lone surrogates reach the parser
        assert call(north["key"], f"{path}/transitions", method="post",
                    raw=raw).status_code < 500
        assert call(north["key"], f"{path}/notes", method="post",
                    raw=json.dumps({"text": note})).status_code < 500

    fuzz()
