"""An API client's own webhook subscriptions over /api/v1/ (services/webhooks/api.py).

- Create, list, read, change, rotate and delete through the API, each audited with the
  client as the actor; the secret is in the 201 and the rotate 200 only (no-store), and the
  secret given signs the deliveries a receiver the test runs gets.
- The administrator's URL rules: a private, link-local, plain-http or credentialed URL is a
  400 problem and saves nothing; so are NUL bytes, Cyrillic event names, non-JSON bodies.
- Scopes: a catalogue-only client is refused (403); a submitter may not ask for staff notes.
- Isolation: a client never sees, changes or reads the log of another client's subscription
  (404); another tenant's key is a 401.
- The delivery log: its own deliveries, newest first, cursor pagination.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from standardwebhooks import Webhook

from services.api.models import ApiClient
from services.api.scopes import Scope
from services.cases import engine
from services.webhooks.api import MAX_PER_CLIENT
from services.webhooks.events import EventType
from services.webhooks.models import Delivery, Subscription
from tenants.audit.models import AuditEvent

from .factories import NORTH, SOUTH, StaffFactory, SubmittedCaseFactory

pytestmark = pytest.mark.django_db
BASE = "/api/v1/webhooks/subscriptions"
PROBLEM = "application/problem+json"
PUBLIC_URL = "https://hooks.example.org/dgbox"


def make_client(name, scopes, *, account=False):
    user = StaffFactory(permissions=["services.view_case"]) if account else None
    client = ApiClient.objects.create(name=name, scopes=scopes, service_user=user)
    return client, client.issue_key()[1]


class Receiver:
    """A real HTTP server on 127.0.0.1 in a thread: records each POST, answers 200."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                requests.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dgbox"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Api:
    """A test client that sends one key to one tenant host."""

    def __init__(self, key, host=NORTH):
        self.http = Client(**host, HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(self, path, **params):
        return self.http.get(path, params)

    def post(self, path, body=None):
        return self.http.post(path, json.dumps(body) if body is not None else "",
                              content_type="application/json")

    def patch(self, path, body):
        return self.http.patch(path, json.dumps(body), content_type="application/json")

    def delete(self, path):
        return self.http.delete(path)


@pytest.fixture
def clients(tenant_a):
    """On North: a staff system, a submitter and a catalogue reader, each with a key."""
    with tenant_context(tenant_a):
        staff, staff_key = make_client("Архив области", [Scope.CASE_WORK], account=True)
        sub, sub_key = make_client("Госуслуги", [Scope.SUBMIT_APPLICATIONS,
                                                 Scope.READ_OWN_SUBMISSIONS])
        _reader, reader_key = make_client("Каталог", [Scope.READ_CATALOGUE])
    connection.set_schema_to_public()
    return {"staff": (staff, Api(staff_key)), "submitter": (sub, Api(sub_key)),
            "reader": Api(reader_key)}


def audit_rows(tenant, action):
    with tenant_context(tenant):
        return list(AuditEvent.objects.filter(kind="webhook_changed", details__action=action))


def test_create_list_read_change_rotate_delete_with_the_secret_shown_once(
        tenant_a, clients, django_capture_on_commit_callbacks):
    staff, api = clients["staff"]
    receiver = Receiver()
    try:
        made = api.post(BASE, {"target_url": receiver.url,
                               "event_types": [EventType.STATUS_CHANGED, EventType.NOTE_ADDED,
                                               EventType.STATUS_CHANGED]})
        assert made.status_code == 201, made.content
        assert made["Cache-Control"] == "no-store"
        body = made.json()
        secret, pk = body["secret"], body["id"]
        assert secret.startswith("whsec_")
        assert body["event_types"] == [EventType.STATUS_CHANGED, EventType.NOTE_ADDED]
        assert made["Location"].endswith(f"{BASE}/{pk}")

        # Never again: not in the list, not in one, not in a change.
        listed = api.get(BASE)
        assert listed.status_code == 200 and listed["Cache-Control"] == "no-store"
        assert [row["id"] for row in listed.json()] == [pk]
        one = api.get(f"{BASE}/{pk}")
        changed = api.patch(f"{BASE}/{pk}", {"event_types": [EventType.STATUS_CHANGED]})
        assert changed.status_code == 200
        assert changed.json()["event_types"] == [EventType.STATUS_CHANGED]
        for response in (listed, one, changed):
            assert secret not in response.content.decode()
            assert "secret" not in response.content.decode()

        # The secret given is the one that signs what the receiver gets.
        with tenant_context(tenant_a):
            case = SubmittedCaseFactory()
            with django_capture_on_commit_callbacks(execute=True):
                engine.take(case.pk, "start_review", automatic=True)
        connection.set_schema_to_public()
        assert len(receiver.requests) == 1
        headers, body = receiver.requests[0]
        event = Webhook(secret).verify(body, headers)
        assert event["data"]["case"]["reference"] == case.reference

        rotated = api.post(f"{BASE}/{pk}/rotate-secret")
        assert rotated.status_code == 200 and rotated["Cache-Control"] == "no-store"
        new_secret = rotated.json()["secret"]
        assert new_secret != secret
        with tenant_context(tenant_a):
            assert Subscription.objects.get(pk=pk).secret == new_secret

        log = api.get(f"{BASE}/{pk}/deliveries")
        assert log.status_code == 200
        entry = log.json()["results"][0]
        assert entry["status"] == "delivered" and entry["last_status_code"] == 200
        assert entry["payload"]["data"]["case"]["reference"] == case.reference

        gone = api.delete(f"{BASE}/{pk}")
        assert gone.status_code == 204
        assert api.get(f"{BASE}/{pk}").status_code == 404
        with tenant_context(tenant_a):
            assert not Subscription.objects.filter(pk=pk).exists()
            assert not Delivery.objects.filter(subscription_id=pk).exists()
    finally:
        receiver.close()
    # Every write on the record, the client named, the secret in none of it.
    for action in ("created", "changed", "secret_rotated", "deleted"):
        rows = audit_rows(tenant_a, action)
        assert len(rows) == 1, action
        assert rows[0].actor_display == "API client: Архив области"
    with tenant_context(tenant_a):
        trail = json.dumps(list(AuditEvent.objects.values_list("details", flat=True)))
    assert secret not in trail and new_secret not in trail


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/",
    "https://10.1.2.3/hook", "https://127.0.0.1/hook", "https://[::1]/hook",
    "http://hooks.example.org/hook", "https://user:pass@hooks.example.org/",
    "https://hooks.example.org/\x00", "ftp://hooks.example.org/", "", "x" * 600,
    "https://локальный.localhost/хук",
])
def test_a_url_the_rules_refuse_is_a_400_problem_and_saves_nothing(
        tenant_a, clients, settings, url):
    settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = False
    _staff, api = clients["staff"]
    response = api.post(BASE, {"target_url": url, "event_types": [EventType.DECIDED]})
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"]["target_url"]
    with tenant_context(tenant_a):
        assert not Subscription.objects.exists()


def test_a_change_to_a_refused_url_keeps_the_old_one(tenant_a, clients, settings):
    _staff, api = clients["staff"]
    pk = api.post(BASE, {"target_url": PUBLIC_URL, "event_types": [EventType.DECIDED]}
                  ).json()["id"]
    settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = False
    response = api.patch(f"{BASE}/{pk}", {"target_url": "https://192.168.0.1/"})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    with tenant_context(tenant_a):
        assert Subscription.objects.get(pk=pk).target_url == PUBLIC_URL


def test_cyrillic_nul_and_odd_bodies_are_clear_400s(tenant_a, clients):
    _staff, api = clients["staff"]
    for body in ({"target_url": PUBLIC_URL, "event_types": ["дело.решено"]},
                 {"target_url": PUBLIC_URL, "event_types": ["case.decided\x00"]},
                 {"target_url": PUBLIC_URL, "event_types": []},
                 {"target_url": PUBLIC_URL},
                 {"target_url": PUBLIC_URL, "event_types": "case.decided"},
                 {"target_url": PUBLIC_URL, "event_types": [EventType.DECIDED],
                  "is_active": "да"},
                 ["not", "an", "object"], "строка"):
        response = api.post(BASE, body)
        assert response.status_code == 400, (body, response.content)
        assert response["Content-Type"] == PROBLEM
    unreadable = api.http.post(BASE, b"{\"target_url\": \xd0", content_type="application/json")
    assert unreadable.status_code == 400 and unreadable["Content-Type"] == PROBLEM
    form = api.http.post(BASE, {"target_url": PUBLIC_URL})
    assert form.status_code == 415 and form["Content-Type"] == PROBLEM
    # A Cyrillic (IDN) host is a URL like any other.
    idn = api.post(BASE, {"target_url": "https://пример.рф/вебхук?тип=дело",
                          "event_types": [EventType.DECIDED]})
    assert idn.status_code == 201, idn.content
    assert idn.json()["target_url"] == "https://пример.рф/вебхук?тип=дело"
    with tenant_context(tenant_a):
        assert Subscription.objects.count() == 1


def test_scopes_decide_who_subscribes_and_to_what(tenant_a, clients):
    refused = clients["reader"].post(BASE, {"target_url": PUBLIC_URL,
                                            "event_types": [EventType.DECIDED]})
    assert refused.status_code == 403 and refused["Content-Type"] == PROBLEM
    assert clients["reader"].get(BASE).status_code == 403
    _sub, submitter = clients["submitter"]
    notes = submitter.post(BASE, {"target_url": PUBLIC_URL,
                                  "event_types": [EventType.DECIDED, EventType.NOTE_ADDED]})
    assert notes.status_code == 400
    assert "cases:work" in notes.json()["errors"]["event_types"][0]
    public = submitter.post(BASE, {"target_url": PUBLIC_URL,
                                   "event_types": [EventType.DECIDED, EventType.SUBMITTED]})
    assert public.status_code == 201
    later = submitter.patch(f"{BASE}/{public.json()['id']}",
                            {"event_types": [EventType.NOTE_ADDED]})
    assert later.status_code == 400
    no_key = Client(**NORTH).get(BASE)
    assert no_key.status_code == 401 and no_key["Content-Type"] == PROBLEM


def test_a_client_never_reaches_another_clients_subscriptions(tenant_a, tenant_b, clients):
    staff, staff_api = clients["staff"]
    _sub, submitter = clients["submitter"]
    theirs = staff_api.post(BASE, {"target_url": PUBLIC_URL, "event_types": [EventType.DECIDED]}
                            ).json()["id"]
    with tenant_context(tenant_a):
        Delivery.objects.create(subscription_id=theirs, event_id="msg_1",
                                event_type=EventType.DECIDED, payload={"type": "case.decided"})
    assert submitter.get(BASE).json() == []
    for response in (submitter.get(f"{BASE}/{theirs}"),
                     submitter.patch(f"{BASE}/{theirs}", {"is_active": False}),
                     submitter.post(f"{BASE}/{theirs}/rotate-secret"),
                     submitter.get(f"{BASE}/{theirs}/deliveries"),
                     submitter.delete(f"{BASE}/{theirs}")):
        assert response.status_code == 404 and response["Content-Type"] == PROBLEM
        assert "secret" not in response.content.decode()
    with tenant_context(tenant_a):
        mine = Subscription.objects.get(pk=theirs)
        assert mine.is_active and mine.deliveries.count() == 1
        assert not AuditEvent.objects.filter(kind="webhook_changed",
                                             details__action="secret_rotated").exists()
    # North's key on South's host: not a key South knows.
    with tenant_context(tenant_b):
        ApiClient.objects.create(name="Архив области", scopes=[Scope.CASE_WORK])
    connection.set_schema_to_public()
    south = Api(staff_api.http.defaults["HTTP_AUTHORIZATION"].split()[1], host=SOUTH)
    for response in (south.get(BASE), south.get(f"{BASE}/{theirs}"),
                     south.post(BASE, {"target_url": PUBLIC_URL,
                                       "event_types": [EventType.DECIDED]})):
        assert response.status_code == 401 and response["Content-Type"] == PROBLEM
    with tenant_context(tenant_b):
        assert not Subscription.objects.exists()


def test_pausing_and_re_enabling_a_subscription(tenant_a, clients):
    _staff, api = clients["staff"]
    pk = api.post(BASE, {"target_url": PUBLIC_URL, "event_types": [EventType.DECIDED]}
                  ).json()["id"]
    paused = api.patch(f"{BASE}/{pk}", {"is_active": False})
    assert paused.status_code == 200 and paused.json()["is_active"] is False
    with tenant_context(tenant_a):
        Subscription.objects.filter(pk=pk).update(consecutive_failures=10,
                                                  disabled_at="2026-12-01T10:00:00Z")
    resumed = api.patch(f"{BASE}/{pk}", {"is_active": True}).json()
    assert resumed["is_active"] is True
    assert resumed["consecutive_failures"] == 0 and resumed["disabled_at"] is None
    # A change that sends nothing changes nothing (and audits nothing).
    assert api.patch(f"{BASE}/{pk}", {}).status_code == 200
    assert len(audit_rows(tenant_a, "changed")) == 2


def test_the_delivery_log_is_paginated_newest_first(tenant_a, clients):
    _sub, api = clients["submitter"]
    pk = api.post(BASE, {"target_url": PUBLIC_URL, "event_types": [EventType.DECIDED]}
                  ).json()["id"]
    with tenant_context(tenant_a):
        for number in range(3):
            Delivery.objects.create(subscription_id=pk, event_id=f"msg_{number}",
                                    event_type=EventType.DECIDED,
                                    payload={"type": "case.decided", "n": number})
    first = api.get(f"{BASE}/{pk}/deliveries", limit=2)
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    page = first.json()
    assert [row["event_id"] for row in page["results"]] == ["msg_2", "msg_1"]
    rest = api.http.get(page["next"])
    assert [row["event_id"] for row in rest.json()["results"]] == ["msg_0"]
    bad = api.get(f"{BASE}/{pk}/deliveries", cursor="не-курсор")
    assert bad.status_code == 404 and bad["Content-Type"] == PROBLEM
    nul = api.get(f"{BASE}/{pk}/deliveries", cursor="abc\x00")
    assert nul.status_code == 400 and nul["Content-Type"] == PROBLEM


def test_a_client_holds_at_most_so_many_subscriptions(tenant_a, clients):
    staff, api = clients["staff"]
    with tenant_context(tenant_a):
        Subscription.objects.bulk_create(
            Subscription(client=staff, target_url=f"{PUBLIC_URL}/{n}",
                         event_types=[EventType.DECIDED]) for n in range(MAX_PER_CLIENT))
    response = api.post(BASE, {"target_url": PUBLIC_URL, "event_types": [EventType.DECIDED]})
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    with tenant_context(tenant_a):
        assert Subscription.objects.filter(client=staff).count() == MAX_PER_CLIENT

