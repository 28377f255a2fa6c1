"""Signed webhooks of case events (services/webhooks/, docs/webhooks.md).

- A receiver the test runs on 127.0.0.1 gets a signed delivery after a case transition, and
  the verification code printed in docs/webhooks.md accepts it; a tampered body, a wrong
  secret and an old timestamp are refused by it.
- A 500 and a closed port are retried on the documented schedule (with jitter), then the
  delivery is given up; the Celery task retries itself with that countdown; after
  DISABLE_AFTER given-up deliveries the subscription is disabled and the administrators get
  an e-mail notice.
- The transition itself makes no connection to the endpoint (a black-hole endpoint): the
  delivery is a row written with the change and a task queued after commit.
- Replay from the admin's delivery log re-sends the same payload with the same Webhook-Id;
  every admin action is audited; other staff get a 403; the secret is shown once.
- Who receives what: a submitter only its own cases' public events, a staff system every
  case its service account may see, nothing across tenants.
- Targets: https on public addresses only outside development (SSRF).
"""

import json
import re
import socket
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context
from requests_hardened.ip_filter import InvalidIPAddress
from standardwebhooks import Webhook

from dgbox.celery import app
from services.api.models import ApiClient, ApiSubmission
from services.api.scopes import Scope
from services.cases import engine
from services.notifications.api import Message
from services.webhooks import delivery, targets
from services.webhooks.events import EventType
from services.webhooks.models import Delivery, Subscription
from services.webhooks.tasks import deliver_webhook, resend_overdue
from tenants.audit.models import AuditEvent

from .factories import NORTH, SOUTH, StaffFactory, SubmittedCaseFactory

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"
ALL_EVENTS = list(EventType.values)


# --- The verification snippet of docs/webhooks.md -------------------------------------------


def docs_snippet():
    """The namespace of the first Python block under "Verifying a delivery" in the docs."""
    text = DOCS.read_text()
    section = text.split("## Verifying a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace


SNIPPET = docs_snippet()
verify, InvalidWebhook = SNIPPET["verify"], SNIPPET["InvalidWebhook"]


# --- A receiver on 127.0.0.1 -----------------------------------------------------------------


class Receiver:
    """A real HTTP server in a thread: records every request, answers `status`."""

    def __init__(self, status=200):
        self.status = status
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/dgbox"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"  # nothing listens there any more


# --- Rows ------------------------------------------------------------------------------------


def staff_system(name="Back office", *, view=True):
    """A client with `cases:work` whose service account can (or cannot) see cases."""
    account = StaffFactory(permissions=["services.view_case"] if view else [])
    return ApiClient.objects.create(name=name, scopes=[Scope.CASE_WORK], service_user=account)


def submitter(name="Госуслуги"):
    return ApiClient.objects.create(name=name, scopes=[Scope.READ_OWN_SUBMISSIONS,
                                                       Scope.SUBMIT_APPLICATIONS])


def subscribe(client, url, events=None):
    return Subscription.objects.create(client=client, target_url=url,
                                       event_types=events or ALL_EVENTS)


def submitted_by(client, case):
    return ApiSubmission.objects.create(client=client, case=case, idempotency_key=f"k-{case.pk}",
                                        body_sha256="0" * 64)


def make_case(**kwargs):
    return SubmittedCaseFactory(applicant_name="Иван Петров", applicant_email="ivan@example.org",
                                **kwargs)


def due_now(row):
    """Time passes until the row's next attempt (the test does not wait for it)."""
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())


# --- Delivered, signed, verified ---------------------------------------------------------------


def test_a_transition_is_delivered_signed_and_the_documented_snippet_verifies_it(
        tenant_a, receiver, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        client = staff_system()
        subscription = subscribe(client, receiver.url, [EventType.STATUS_CHANGED,
                                                        EventType.DECIDED])
        case = make_case()
        with django_capture_on_commit_callbacks(execute=True):
            engine.take(case.pk, "start_review", automatic=True)
        assert len(receiver.requests) == 1
        headers, body = receiver.requests[0]
        event = verify(subscription.secret, headers, body)
        assert event["type"] == "case.status_changed"
        assert event["data"]["case"]["reference"] == case.reference
        assert event["data"]["from"] == "received" and event["data"]["to"] == "in_review"
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        # No personal data in the payload: not the name, not the e-mail, not the answers.
        assert "Иван" not in body.decode() and "ivan@example.org" not in body.decode()
        row = Delivery.objects.get(subscription=subscription)
        assert row.status == Delivery.Status.DELIVERED and row.attempts == 1
        assert row.last_status_code == 200 and headers["Webhook-Id"] == row.event_id

        # A decision is two events: the change of status and the decision.
        with django_capture_on_commit_callbacks(execute=True):
            engine.take(case.pk, "refuse", automatic=True, values={"reason": "Нет оснований"})
        types = [json.loads(b)["type"] for _h, b in receiver.requests[1:]]
        assert sorted(types) == ["case.decided", "case.status_changed"]
        assert "Нет оснований" not in b"".join(b for _h, b in receiver.requests).decode()


def test_tampered_body_wrong_secret_and_old_timestamp_fail_verification(
        tenant_a, receiver, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), receiver.url)
        case = make_case()
        with django_capture_on_commit_callbacks(execute=True):
            engine.take(case.pk, "start_review", automatic=True)
    headers, body = receiver.requests[-1]
    assert verify(subscription.secret, headers, body)
    tampered = body.replace(b"in_review", b"approved")
    with pytest.raises(InvalidWebhook):
        verify(subscription.secret, headers, tampered)
    with pytest.raises(InvalidWebhook):
        verify(Subscription(client_id=0).secret, headers, body)  # another random secret
    old = {**headers, "Webhook-Timestamp": str(int(time.time()) - 6 * 60)}
    with pytest.raises(InvalidWebhook):
        verify(subscription.secret, old, body)
    # The standard library of the scheme agrees with the documented code.
    assert Webhook(subscription.secret).verify(body, headers)["data"]["case"]["status"] \
        == "in_review"


# --- Retries, give-up, auto-disable --------------------------------------------------------


def assert_waits_on_the_schedule(row, failing_status):
    """Drive every attempt of `row`: each failed one schedules the next after the documented
    wait (stretched by at most the jitter), the last one gives up."""
    for number in range(1, delivery.ATTEMPTS + 1):
        due_now(row)
        outcome = delivery.attempt(row.pk)
        row.refresh_from_db()
        assert outcome.sent and not outcome.delivered
        assert row.attempts == number and row.last_status_code == failing_status
        if number < delivery.ATTEMPTS:
            base = delivery.RETRY_SCHEDULE[number - 1]
            assert base <= outcome.retry_in <= base * (1 + delivery.JITTER)
            wait = (row.next_attempt_at - row.last_attempt_at).total_seconds()
            assert base <= wait <= base * (1 + delivery.JITTER) + 1
            assert row.status == Delivery.Status.PENDING
        else:
            assert outcome.retry_in is None
            assert row.status == Delivery.Status.FAILED and row.next_attempt_at is None
    return row


def test_a_500_is_retried_on_the_schedule_then_given_up(
        tenant_a, django_capture_on_commit_callbacks):
    failing = Receiver(status=500)
    try:
        with tenant_context(tenant_a):
            subscription = subscribe(staff_system(), failing.url, [EventType.STATUS_CHANGED])
            case = make_case()
            with django_capture_on_commit_callbacks(execute=False):
                engine.take(case.pk, "start_review", automatic=True)
            row = Delivery.objects.get(subscription=subscription)
            assert_waits_on_the_schedule(row, 500)
            # Not due: a duplicate task does nothing.
            assert delivery.attempt(row.pk).sent is False
            assert len(failing.requests) == delivery.ATTEMPTS
            assert len({h["Webhook-Id"] for h, _b in failing.requests}) == 1
            assert len({b for _h, b in failing.requests}) == 1  # the same bytes every time
            subscription.refresh_from_db()
            assert subscription.consecutive_failures == 1 and subscription.is_active
    finally:
        failing.close()


def test_a_closed_port_is_retried_and_the_task_retries_with_celery(
        tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), closed_port_url(), [EventType.STATUS_CHANGED])
        case = make_case()
        with django_capture_on_commit_callbacks(execute=False):
            engine.take(case.pk, "start_review", automatic=True)
        row = Delivery.objects.get(subscription=subscription)
        # The task, as a worker runs it: the failed attempt becomes a Celery retry.
        deliver_webhook.push_request(is_eager=False, called_directly=False, retries=0,
                                     id="t-1", args=[row.pk], kwargs={})
        try:
            with pytest.raises(Retry) as retried:
                deliver_webhook.run(row.pk)
        finally:
            deliver_webhook.pop_request()
        countdown = retried.value.when
        assert 50 <= countdown <= 60 * (1 + delivery.JITTER)
        row.refresh_from_db()
        assert row.attempts == 1 and row.last_status_code is None
        assert "ConnectionError" in row.last_error
        Delivery.objects.filter(pk=row.pk).update(attempts=0, round_attempts=0)
        row.refresh_from_db()
        assert_waits_on_the_schedule(row, None)


def test_the_subscription_is_disabled_after_n_failed_deliveries_with_a_notice(tenant_a):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), closed_port_url())
        rows = [Delivery.objects.create(subscription=subscription, event_id=f"msg_{n}",
                                        event_type=EventType.STATUS_CHANGED, payload={"n": n},
                                        next_attempt_at=timezone.now())
                for n in range(delivery.DISABLE_AFTER)]
        for number, row in enumerate(rows, start=1):
            for _attempt in range(delivery.ATTEMPTS):
                due_now(row)
                delivery.attempt(row.pk)
            subscription.refresh_from_db()
            assert subscription.consecutive_failures == number
            assert subscription.is_active is (number < delivery.DISABLE_AFTER)
        assert subscription.disabled_at is not None
        [notice] = Message.objects.filter(key="webhook_disabled")
        assert notice.recipient == "admin@north.example"
        assert "Back office" in notice.subject and subscription.target_url in notice.body
        assert f"/admin/webhooks/{subscription.pk}/" in notice.body
        # Disabled: new events are not recorded for it, pending ones are not sent.
        case = make_case()
        engine.take(case.pk, "start_review", automatic=True)
        assert not Delivery.objects.filter(subscription=subscription,
                                           payload__data__case__reference=case.reference)


def test_a_delivered_one_resets_the_failure_count(tenant_a, receiver):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), receiver.url)
        Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=7)
        row = Delivery.objects.create(subscription=subscription, event_id="msg_x",
                                      event_type=EventType.SUBMITTED, payload={"a": "б"},
                                      next_attempt_at=timezone.now())
        assert delivery.attempt(row.pk).delivered
        subscription.refresh_from_db()
        assert subscription.consecutive_failures == 0
        assert json.loads(receiver.requests[0][1]) == {"a": "б"}


# --- A dead endpoint never slows case work ---------------------------------------------------


class ConnectionsTo:
    """Records connections made to one port, with Python's audit hooks (no mock)."""

    watched: set[int] = set()
    seen: list[int] = []

    @classmethod
    def hook(cls, event, args):
        if event == "socket.connect" and len(args) > 1 and isinstance(args[1], tuple) \
                and len(args[1]) >= 2 and args[1][1] in cls.watched:
            cls.seen.append(args[1][1])


sys.addaudithook(ConnectionsTo.hook)


def test_a_transition_with_a_dead_endpoint_makes_no_connection(
        tenant_a, django_capture_on_commit_callbacks, settings):
    black_hole = socket.socket()  # accepts connections into its backlog, never answers
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(8)
    port = black_hole.getsockname()[1]
    ConnectionsTo.watched = {port}
    ConnectionsTo.seen = []
    saved = app.conf.task_always_eager
    app.conf.task_always_eager = False  # as in production: queued to the broker (memory://)
    try:
        with tenant_context(tenant_a):
            subscription = subscribe(staff_system(), f"http://127.0.0.1:{port}/hook")
            case = make_case()
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                engine.take(case.pk, "start_review", automatic=True)
            assert callbacks  # the task was queued after commit...
            row = Delivery.objects.get(subscription=subscription,
                                       event_type=EventType.STATUS_CHANGED)
            assert row.status == Delivery.Status.PENDING and row.attempts == 0
        assert ConnectionsTo.seen == []  # ...and nothing connected to the endpoint
    finally:
        app.conf.task_always_eager = saved
        ConnectionsTo.watched = set()
        black_hole.close()


# --- Who receives what --------------------------------------------------------------------------


def test_a_submitter_gets_only_its_own_cases_public_events(
        tenant_a, receiver, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        mine, theirs = submitter("Госуслуги"), submitter("Другой портал")
        no_scope = ApiClient.objects.create(name="Каталог", scopes=[Scope.READ_CATALOGUE])
        blind = staff_system("Без доступа", view=False)
        staff = staff_system("Back office")
        subs = {name: subscribe(client, receiver.url)
                for name, client in (("mine", mine), ("theirs", theirs), ("none", no_scope),
                                     ("blind", blind), ("staff", staff))}
        with django_capture_on_commit_callbacks(execute=False):
            case = make_case()
            submitted_by(mine, case)
            other = make_case()
            submitted_by(theirs, other)
            engine.take(case.pk, "request_info", automatic=True,
                        values={"message": "Пришлите копию паспорта"})
            engine.add_note(case, "Внутренняя заметка", actor=None)

        def events(name, of):
            return sorted(Delivery.objects.filter(
                subscription=subs[name], payload__data__case__reference=of.reference)
                .values_list("event_type", flat=True))

        public = sorted([EventType.SUBMITTED, EventType.STATUS_CHANGED,
                         EventType.INFORMATION_REQUESTED])
        assert events("mine", case) == public
        assert events("mine", other) == []
        assert events("theirs", other) == [EventType.SUBMITTED]
        assert events("theirs", case) == []
        assert not Delivery.objects.filter(subscription__in=[subs["none"], subs["blind"]])
        assert events("staff", case) == sorted([*public, EventType.NOTE_ADDED])
        note = Delivery.objects.get(subscription=subs["staff"], event_type=EventType.NOTE_ADDED)
        assert "Внутренняя" not in json.dumps(note.payload, ensure_ascii=False)
        assert "паспорта" not in json.dumps(list(Delivery.objects.values_list("payload")),
                                            ensure_ascii=False)
        # One case.submitted per subscription whether the case event or the API submission
        # was recorded first.
        assert Delivery.objects.filter(subscription=subs["staff"],
                                       event_type=EventType.SUBMITTED).count() == 2


def test_a_subscription_of_one_tenant_never_gets_another_tenants_events(
        tenant_a, tenant_b, django_capture_on_commit_callbacks):
    north, south = Receiver(), Receiver()
    try:
        with tenant_context(tenant_a):
            subscribe(staff_system(), north.url)
        with tenant_context(tenant_b):
            subscribe(staff_system(), south.url)
            with django_capture_on_commit_callbacks(execute=True):
                case = make_case()
                engine.take(case.pk, "start_review", automatic=True)
            south_ref = case.reference
        with tenant_context(tenant_a):
            assert not Delivery.objects.exists()
        assert north.requests == []
        assert {json.loads(b)["data"]["case"]["reference"] for _h, b in south.requests} \
            == {south_ref}
        # Different event ids in each tenant even for equal row ids (receivers de-duplicate).
        with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=True):
            case = make_case()
            engine.take(case.pk, "start_review", automatic=True)
        north_ids = {h["Webhook-Id"] for h, _b in north.requests}
        south_ids = {h["Webhook-Id"] for h, _b in south.requests}
        assert north_ids and not north_ids & south_ids
        assert len(south.requests) == len(north.requests) == 2  # submitted, status_changed
    finally:
        north.close()
        south.close()


# --- Targets (SSRF) ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://example.org/hook",              # not https
    "https://10.0.0.7/hook",                # private
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://[::ffff:127.0.0.1]/hook",      # loopback in IPv6 dress
    "https://[fd00::1]/hook",
    "https://100.64.0.1/hook",              # carrier-grade NAT
    "https://localhost/hook",
    "https://internal.localhost/hook",
    "http://127.0.0.1:8000/hook",
    "https://user:password@example.org/hook",
    "https://example.org/\x00hook",
    "https://" + "д" * 600 + ".рф/",
    "javascript:alert(1)",
    "",
])
def test_private_and_plain_targets_are_refused_in_production(settings, url):
    settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = False
    with pytest.raises(ValidationError):
        targets.check(url, resolve=True)


def test_public_https_and_local_development_targets_are_accepted(settings):
    settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = False
    targets.check("https://93.184.215.14/hooks")
    targets.check("https://receiver.example.org/hooks")  # names resolved when connecting
    settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = True
    targets.check("http://127.0.0.1:9000/hook")
    with pytest.raises(ValidationError):
        targets.check("http://10.0.0.7/hook")  # development allows loopback, nothing else


def test_a_loopback_target_is_refused_when_sending_in_production(tenant_a, receiver, settings):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), receiver.url)
        row = Delivery.objects.create(subscription=subscription, event_id="msg_p",
                                      event_type=EventType.SUBMITTED, payload={},
                                      next_attempt_at=timezone.now())
        settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = False
        outcome = delivery.attempt(row.pk)
        assert not outcome.delivered
        row.refresh_from_db()
        assert "https" in row.last_error
        # The connection-time filter too (what stops DNS rebinding), not only our check.
        with delivery.http_manager().get_session() as session, \
                pytest.raises(InvalidIPAddress):
            session.post(receiver.url, data=b"{}")
    assert receiver.requests == []


# --- The admin ---------------------------------------------------------------------------------


@pytest.fixture
def admin_client(tenant_a):
    client = Client(**NORTH)
    with tenant_context(tenant_a):
        client.force_login(get_user_model().objects.get(email="admin@north.example"))
    connection.set_schema_to_public()
    return client


def audited(tenant, action):
    with tenant_context(tenant):
        return AuditEvent.objects.filter(kind="webhook_changed", details__action=action).count()


def test_the_administrator_adds_a_subscription_and_sees_the_secret_once(
        tenant_a, admin_client, receiver):
    with tenant_context(tenant_a):
        client = staff_system("Архив области")
    response = admin_client.post("/admin/webhooks/add/", {
        "client": client.pk, "target_url": receiver.url,
        "event_types": [EventType.DECIDED, EventType.STATUS_CHANGED], "is_active": "on"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("no-store") or "no-store" in \
        response["Cache-Control"]
    with tenant_context(tenant_a):
        subscription = Subscription.objects.get(client=client)
    assert subscription.secret in response.content.decode()
    assert subscription.secret.startswith("whsec_")
    listing = admin_client.get("/admin/webhooks/")
    assert listing.status_code == 200 and "Архив области" in listing.content.decode()
    assert subscription.secret not in listing.content.decode()
    edit = admin_client.get(f"/admin/webhooks/{subscription.pk}/edit/")
    assert subscription.secret not in edit.content.decode()
    rotated = admin_client.post(f"/admin/webhooks/{subscription.pk}/rotate/")
    with tenant_context(tenant_a):
        new_secret = Subscription.objects.get(pk=subscription.pk).secret
    assert new_secret != subscription.secret and new_secret in rotated.content.decode()
    assert audited(tenant_a, "created") == 1 and audited(tenant_a, "secret_rotated") == 1
    with tenant_context(tenant_a):
        details = json.dumps(list(AuditEvent.objects.filter(kind="webhook_changed")
                                  .values_list("details", flat=True)))
    assert new_secret not in details and subscription.secret not in details
    deleted = admin_client.post(f"/admin/webhooks/{subscription.pk}/delete/")
    assert deleted.status_code == 302 and audited(tenant_a, "deleted") == 1


def test_bad_targets_and_clients_without_scopes_get_messages_not_errors(
        tenant_a, admin_client, settings):
    settings.DGBOX_WEBHOOKS_ALLOW_LOCAL = False
    with tenant_context(tenant_a):
        catalogue_only = ApiClient.objects.create(name="Каталог", scopes=[Scope.READ_CATALOGUE])
        client = staff_system()
    for url, who in (("http://169.254.169.254/latest/", client),
                     ("https://10.1.2.3/\x00", client),
                     ("https://hooks.example.org/", catalogue_only)):
        response = admin_client.post("/admin/webhooks/add/", {
            "client": who.pk, "target_url": url, "event_types": [EventType.DECIDED]})
        assert response.status_code == 200
        # The test tenant's admin speaks Russian: "could not be saved".
        assert "Подписку не удалось сохранить" in response.content.decode()
    with tenant_context(tenant_a):
        assert not Subscription.objects.exists()


def test_replay_from_the_log_resends_the_same_id_and_is_audited(
        tenant_a, admin_client, receiver, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), receiver.url, [EventType.STATUS_CHANGED])
        case = make_case()
        with django_capture_on_commit_callbacks(execute=True):
            engine.take(case.pk, "start_review", automatic=True)
        row = Delivery.objects.get(subscription=subscription)
    log = admin_client.get(f"/admin/webhooks/{subscription.pk}/")
    assert log.status_code == 200 and row.event_id in log.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/webhooks/{subscription.pk}/replay/{row.pk}/")
    assert response.status_code == 302
    assert len(receiver.requests) == 2
    (first_headers, first_body), (again_headers, again_body) = receiver.requests
    assert again_headers["Webhook-Id"] == first_headers["Webhook-Id"] == row.event_id
    assert again_body == first_body
    assert verify(subscription.secret, again_headers, again_body)
    with tenant_context(tenant_a):
        row.refresh_from_db()
        assert row.attempts == 2 and row.status == Delivery.Status.DELIVERED
    assert audited(tenant_a, "replayed") == 1


def test_a_disabled_subscription_is_re_enabled_from_the_log(tenant_a, admin_client):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), closed_port_url())
        Subscription.objects.filter(pk=subscription.pk).update(
            is_active=False, consecutive_failures=10, disabled_at=timezone.now())
    log = admin_client.get(f"/admin/webhooks/{subscription.pk}/")
    assert "Снова включить подписку" in log.content.decode()  # "Re-enable the subscription"
    assert admin_client.post(f"/admin/webhooks/{subscription.pk}/enable/").status_code == 302
    with tenant_context(tenant_a):
        subscription.refresh_from_db()
    assert subscription.is_active and subscription.consecutive_failures == 0
    assert audited(tenant_a, "enabled") == 1


def test_only_administrators_reach_the_webhook_pages(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), closed_port_url())
        worker = StaffFactory(permissions=["wagtailadmin.access_admin", "services.view_case"])
        browser = Client(**NORTH)
        browser.force_login(worker)
    # Wagtail's admin answers a refusal with a redirect to its dashboard and a message.
    for path in ("/admin/webhooks/", "/admin/webhooks/add/",
                 f"/admin/webhooks/{subscription.pk}/",
                 f"/admin/webhooks/{subscription.pk}/edit/"):
        response = browser.get(path)
        assert response.status_code == 302 and response["Location"] == "/admin/"
    refused = browser.post(f"/admin/webhooks/{subscription.pk}/rotate/")
    assert refused.status_code == 302 and refused["Location"] == "/admin/"
    with tenant_context(tenant_a):
        assert Subscription.objects.get(pk=subscription.pk).secret == subscription.secret
        assert not AuditEvent.objects.filter(kind="webhook_changed").exists()
    # North's administrator on South's host is nobody there.
    south = Client(**SOUTH)
    with tenant_context(tenant_a):
        south.force_login(get_user_model().objects.get(email="admin@north.example"))
    assert south.get("/admin/webhooks/").status_code in (302, 403)


def test_a_delivery_whose_task_was_lost_is_sent_by_the_periodic_job(tenant_a, receiver):
    with tenant_context(tenant_a):
        subscription = subscribe(staff_system(), receiver.url)
        late = Delivery.objects.create(subscription=subscription, event_id="msg_lost",
                                       event_type=EventType.SUBMITTED, payload={"x": 1},
                                       next_attempt_at=timezone.now() - timedelta(hours=1))
        waiting = Delivery.objects.create(subscription=subscription, event_id="msg_wait",
                                          event_type=EventType.SUBMITTED, payload={"x": 2},
                                          next_attempt_at=timezone.now() + timedelta(hours=1))
        assert delivery.overdue_ids() == [late.pk]
        assert resend_overdue() == 1
        late.refresh_from_db()
        waiting.refresh_from_db()
        assert late.status == Delivery.Status.DELIVERED
        assert waiting.status == Delivery.Status.PENDING and waiting.attempts == 0
    assert [h["Webhook-Id"] for h, _b in receiver.requests] == ["msg_lost"]


# --- On a real Celery worker -------------------------------------------------------------------


@pytest.mark.worker
def test_a_real_worker_delivers_in_the_tenants_schema_and_schedules_the_retry(
        celery_worker, session_tenants, in_thread):
    """The task goes through the broker to a worker process, which finds the delivery in the
    schema the task carries (tenant-schemas-celery), posts it signed, and turns a 500 into a
    Celery retry (the retry itself, a minute later, is not waited for)."""
    tenant = session_tenants["a"]
    good, failing = Receiver(), Receiver(status=500)

    def commit_rows():
        with tenant_context(tenant):
            client = ApiClient.objects.create(name="Worker test client",
                                              scopes=[Scope.CASE_WORK])
            rows = []
            for url, event in ((good.url, "msg_worker_ok"), (failing.url, "msg_worker_500")):
                subscription = subscribe(client, url)
                rows.append(Delivery.objects.create(
                    subscription=subscription, event_id=event, event_type=EventType.SUBMITTED,
                    payload={"проверка": event}, next_attempt_at=timezone.now()).pk)
            return client.pk, rows

    def read(pk):
        with tenant_context(tenant):
            return Delivery.objects.values("status", "attempts", "last_status_code",
                                           "next_attempt_at", "last_attempt_at").get(pk=pk)

    def remove(client_pk):
        with tenant_context(tenant):
            ApiClient.objects.filter(pk=client_pk).delete()

    client_pk, (ok_pk, failing_pk) = in_thread(commit_rows)
    try:
        with tenant_context(tenant):
            deliver_webhook.delay(ok_pk)
            deliver_webhook.delay(failing_pk)
        deadline = time.monotonic() + 90  # readiness, not speed
        while time.monotonic() < deadline and (
                not good.requests or in_thread(read, failing_pk)["attempts"] < 1
                or in_thread(read, failing_pk)["last_status_code"] is None):
            time.sleep(0.2)
        assert [h["Webhook-Id"] for h, _b in good.requests] == ["msg_worker_ok"]
        assert json.loads(good.requests[0][1]) == {"проверка": "msg_worker_ok"}
        assert in_thread(read, ok_pk)["status"] == Delivery.Status.DELIVERED
        failed = in_thread(read, failing_pk)
        assert failed["status"] == Delivery.Status.PENDING and failed["last_status_code"] == 500
        wait = (failed["next_attempt_at"] - failed["last_attempt_at"]).total_seconds()
        assert 60 <= wait <= 60 * (1 + delivery.JITTER) + 1
    finally:
        in_thread(remove, client_pk)
        good.close()
        failing.close()


def webhook_queries(case_pk, code):
    with CaptureQueriesContext(connection) as queries:
        engine.take(case_pk, code, automatic=True)
    return [q["sql"] for q in queries.captured_queries if "webhooks_" in q["sql"]]


def test_case_work_pays_no_query_without_subscriptions_and_a_fixed_number_with_them(
        tenant_a, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=False):
        # "Any at all?" was asked by the case's own "submitted" event and kept in the
        # tenant's cache: the transition pays no query.
        assert webhook_queries(make_case().pk, "start_review") == []
        staff = staff_system()
        subscribe(staff, closed_port_url())
        one = webhook_queries(make_case().pk, "start_review")
        for _n in range(3):
            subscribe(staff, closed_port_url())
        four = webhook_queries(make_case().pk, "start_review")
        assert len(four) == len(one)  # the same queries for 1 or 4 subscriptions
        assert Delivery.objects.filter(event_type=EventType.STATUS_CHANGED).count() == 1 + 4


def test_a_new_enabled_or_disabled_subscription_is_seen_by_the_very_next_case_event(
        tenant_a, django_capture_on_commit_callbacks):
    """"Any active subscription?" comes from the tenant's cache (most tenants have none: no
    query); every way a subscription changes makes it stale at once, the queryset update of
    `delivery.enable` and bulk writes included, so no event is missed. Each change is made
    between a case's creation and its transition."""

    def transition(case):
        before = Delivery.objects.filter(event_type=EventType.STATUS_CHANGED).count()
        queries = webhook_queries(case.pk, "start_review")
        made = Delivery.objects.filter(event_type=EventType.STATUS_CHANGED).count() - before
        return made, len(queries)

    with tenant_context(tenant_a), django_capture_on_commit_callbacks(execute=False):
        assert transition(make_case()) == (0, 0)  # none, and no query to know it
        staff = staff_system()
        case = make_case()
        subscription = subscribe(staff, closed_port_url())  # new: seen at once
        made, queries = transition(case)
        assert made == 1 and queries > 0
        case = make_case()
        delivery.disable(subscription)  # disabled (a save)
        assert transition(case)[0] == 0
        assert transition(make_case()) == (0, 0)  # and "none" is kept again
        case = make_case()
        delivery.enable(subscription)  # a queryset update: seen at once too
        assert transition(case)[0] == 1
        case = make_case()
        Subscription.objects.filter(pk=subscription.pk).update(is_active=False)
        assert transition(case)[0] == 0
        assert transition(make_case()) == (0, 0)
        case = make_case()
        Subscription.objects.bulk_create([Subscription(client=staff, target_url=closed_port_url(),
                                                       event_types=ALL_EVENTS)])
        assert transition(case)[0] == 1
        case = make_case()
        Subscription.objects.filter(is_active=True).delete()
        assert transition(case)[0] == 0
        assert transition(make_case()) == (0, 0)


def test_a_subscription_made_in_another_tenant_is_not_seen_here(
        tenant_a, tenant_b, django_capture_on_commit_callbacks):
    """The cached answer is the tenant's own: tenant B subscribing does not make tenant A
    look for subscriptions, and tenant A's cached "none" does not hide B's."""
    with django_capture_on_commit_callbacks(execute=False):
        with tenant_context(tenant_a):
            case_a = make_case()
        with tenant_context(tenant_b):
            case_b = make_case()
            subscribe(staff_system(), closed_port_url())
            webhook_queries(case_b.pk, "start_review")
            assert Delivery.objects.filter(event_type=EventType.STATUS_CHANGED).count() == 1
        with tenant_context(tenant_a):
            assert webhook_queries(case_a.pk, "start_review") == []
            assert not Delivery.objects.exists()
