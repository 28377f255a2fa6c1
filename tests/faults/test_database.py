"""PostgreSQL faults under a request: the backend serving it is terminated with
pg_terminate_backend (from a separate connection) while one of its queries runs, or between
requests, or the server refuses connections. A read is run once more on a new connection; a
write is not repeated and can be sent again; otherwise the "try again" page (503 with
Retry-After, in the page's language, never a trace); the next request reconnects.

These tests run outside the usual rolled-back transaction (a terminated connection takes its
transaction with it): they read the committed session tenants, and `committed_service`
deletes what they write.
"""

import logging
import threading
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.conf import settings
from django.core import mail
from django.db import close_old_connections, connection
from django.test import Client
from django_tenants.utils import tenant_context

from services.models import ApplicationDraft, Case
from services.notifications.models import Message
from tenants.host_cache import host_cache

from ..factories import NORTH
from .servers import ANSWERS, free_port

WAIT = 30  # seconds; a readiness bound only


@pytest.fixture
def live_db(session_tenants, django_db_blocker):
    """The committed session tenants, reached in autocommit as a web process does."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield session_tenants["a"]
        connection.close()


@pytest.fixture
def client():
    # A web server answers whatever happened; the test client would re-raise the exception
    # the middleware answered, so it is told not to.
    return Client(raise_request_exception=False)


def served(client, method, path, *args, **extra):
    """The request as a WSGI server runs it: Django's request_started/request_finished
    connection checks around it (the test client leaves them out to protect test
    transactions; these tests run outside one)."""
    close_old_connections()
    try:
        return getattr(client, method)(path, *args, **extra)
    finally:
        close_old_connections()


def _admin():
    db = settings.DATABASES["default"]
    return psycopg.connect(host=db.get("HOST") or None, port=db.get("PORT") or None,
                           user=db.get("USER") or None, password=db.get("PASSWORD") or None,
                           dbname="postgres", autocommit=True)


def terminate(pid: int) -> None:
    with _admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]


def _terminate_while_sleeping(pid: int, errors: list) -> None:
    try:
        with _admin() as admin:
            deadline = time.monotonic() + WAIT
            while not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s AND "
                                    "wait_event = 'PgSleep'", [pid]).fetchone():
                assert time.monotonic() < deadline, "the backend never started its query"
                time.sleep(0.01)
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


@contextmanager
def backend_terminated_during(sql_fragment: str, times: int = 1):
    """For the next `times` statements of this thread containing `sql_fragment`: the backend
    first runs a query that takes a while (pg_sleep), and another connection terminates it
    in the middle; the statement fails as on a server that killed its backend. Yields the
    pids terminated."""
    terminated: list[int] = []
    errors: list[Exception] = []

    def wrapper(execute, sql, params, many, context):
        if len(terminated) < times and sql_fragment in sql:
            pid = context["connection"].connection.info.backend_pid
            terminated.append(pid)
            killer = threading.Thread(target=_terminate_while_sleeping, args=(pid, errors))
            killer.start()
            try:
                context["cursor"].execute("SELECT pg_sleep(30)")
            finally:
                killer.join()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield terminated
    assert not errors, errors


#: The home page with a query string: its content is rendered on every request, so each one
#: reads the database (a page kept in the tenant's cache reads none: cms/page_cache.py).
READS = "/ru/?from=test"


def backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


@pytest.mark.django_db  # also makes a run of this module alone set up the test database
def test_only_lost_connections_and_unreachable_storage_count_as_outages():
    from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError

    from dgbox.outages import DATABASE, FILES, failure_kind
    from infra.s3 import S3Error, S3NotFound

    assert failure_kind(OperationalError("terminating connection")) == DATABASE
    assert failure_kind(InterfaceError("connection already closed")) == DATABASE
    assert failure_kind(S3Error("cannot reach the S3 endpoint")) == FILES
    wrapped = RuntimeError("while saving")
    wrapped.__cause__ = OperationalError("server closed the connection unexpectedly")
    assert failure_kind(wrapped) == DATABASE
    for other in (IntegrityError("duplicate key"), ProgrammingError("no such table"),
                  S3NotFound("no such object"), ValueError("bad input"), None):
        assert failure_kind(other) is None


def test_a_page_whose_connection_is_lost_is_read_again_on_a_new_one(live_db, client, caplog):
    assert served(client, "get", READS, **NORTH).status_code == 200
    with backend_terminated_during('"wagtailcore_page"') as terminated, \
            caplog.at_level(logging.WARNING):
        response = served(client, "get", READS, **NORTH)
    assert len(terminated) == 1
    assert response.status_code == 200 and "Северная область" in response.content.decode()
    assert "lost its database connection" in caplog.text
    assert "running it once more" in caplog.text
    assert "Internal Server Error" not in caplog.text and "answered 503" not in caplog.text
    assert backend_pid() != terminated[0]


@pytest.mark.parametrize(("path", "language", "heading"), [
    ("/en/", "en", "Sorry, the service is temporarily unavailable"),
    ("/ru/", "ru", None),
])
def test_a_read_that_fails_again_gets_the_try_again_page_in_its_language(
        live_db, client, caplog, path, language, heading):
    with backend_terminated_during('"wagtailcore_page"', times=2) as terminated, \
            caplog.at_level(logging.WARNING):
        response = served(client, "get", path, **NORTH)
    assert len(terminated) == 2  # tried twice: the second connection was lost too
    body = response.content.decode()
    assert response.status_code == 503
    assert response["Retry-After"] == "30" and response["Cache-Control"] == "no-store"
    assert response["Content-Language"] == language and f'<html lang="{language}"' in body
    if heading:
        assert heading in body and "try again in a minute" in body
    assert "Traceback" not in body and "OperationalError" not in body
    # The same security headers as any other page.
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    # One warning with the cause (and its trace) in the log; no "Internal Server Error".
    assert "answered 503: database unavailable" in caplog.text
    assert "Internal Server Error" not in caplog.text
    # The next request reconnects.
    assert served(client, "get", path, **NORTH).status_code in (200, 302, 404)
    assert served(client, "get", "/ru/", **NORTH).status_code == 200


def test_the_api_answers_problem_json(live_db, client):
    with backend_terminated_during('"wagtailcore_page"', times=2):
        response = served(client, "get", "/api/v2/pages/", **NORTH)
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 503
    assert served(client, "get", "/api/v2/pages/", **NORTH).status_code == 200


def test_a_connection_terminated_between_requests_is_replaced_unnoticed(live_db, client,
                                                                        caplog):
    assert served(client, "get", READS, **NORTH).status_code == 200
    before = backend_pid()
    terminate(before)
    with caplog.at_level(logging.WARNING):
        response = served(client, "get", READS, **NORTH)
    assert response.status_code == 200
    # CONN_HEALTH_CHECKS found the dead connection before the first query: no retry needed.
    assert "lost its database connection" not in caplog.text
    assert backend_pid() != before


def test_a_server_that_refuses_connections_gets_the_page_then_is_reconnected(
        live_db, client, caplog):
    """A restarting server refuses connections; here a closed port stands in for it. The
    host cache is emptied, so tenant routing itself needs the database and fails first."""
    port = connection.settings_dict["PORT"]
    connection.close()
    host_cache.clear()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        with caplog.at_level(logging.WARNING):
            response = served(client, "get", "/ru/", **NORTH)
    finally:
        connection.settings_dict["PORT"] = port
        connection.close()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert '<html lang="ru"' in response.content.decode()
    assert response["X-Frame-Options"] == "DENY"  # though routing failed before the
    assert response["X-Content-Type-Options"] == "nosniff"  # header middlewares ran
    assert "answered 503: database unavailable" in caplog.text
    assert served(client, "get", "/ru/", **NORTH).status_code == 200


def test_a_submission_that_loses_its_connection_is_not_repeated_and_can_be_sent_again(
        session_tenants, committed_service, client, caplog, settings, tmp_path):
    settings.STATE_DIR = tmp_path  # this test's own SMS log
    tenant = session_tenants["a"]
    with tenant_context(tenant):
        draft = ApplicationDraft.objects.create(
            service=committed_service, form_version=committed_service.current_version(),
            answers=dict(ANSWERS), language="ru")
    connection.set_schema_to_public()
    mail.outbox.clear()
    path = "/ru/apply/street-trading/check/"

    with backend_terminated_during('INSERT INTO "services_case"') as terminated, \
            caplog.at_level(logging.WARNING):
        failed = served(client, "post", path, {"draft": str(draft.token)}, **NORTH)
    assert len(terminated) == 1  # a POST is never run twice
    assert failed.status_code == 503 and failed["Retry-After"] == "30"
    assert '<html lang="ru"' in failed.content.decode()
    assert "running it once more" not in caplog.text
    with tenant_context(tenant):
        assert not Case.objects.filter(submission_key=draft.token).exists()
        draft.refresh_from_db()
        assert draft.case_id is None  # the draft stays, ready to be sent again
    assert mail.outbox == []

    again = served(client, "post", path, {"draft": str(draft.token)}, **NORTH)
    assert again.status_code == 302 and again["Location"].endswith("/done/")
    twice = served(client, "post", path, {"draft": str(draft.token)}, **NORTH)  # impatient
    assert twice.status_code == 302
    with tenant_context(tenant):
        [case] = Case.objects.filter(submission_key=draft.token)
        messages = Message.objects.filter(topic=case.reference)
        assert sorted((m.channel, m.status, m.attempts) for m in messages) == [
            ("email", "sent", 1), ("sms", "sent", 1)]
    assert [m.to for m in mail.outbox] == [[ANSWERS["applicant_email"]]]
    assert len((tmp_path / "sms.log").read_text(encoding="utf-8").splitlines()) == 1


def test_a_page_kept_in_the_tenants_cache_is_read_while_the_server_refuses_connections(
        live_db, client):
    """A published page a process already serves from the tenant's cache (cms/page_cache.py)
    needs no database: citizens keep reading it while the server restarts; a page that needs
    the database gets the try-again page."""
    kept = "/ru/services/building-permit/"
    for _ in range(2):
        assert served(client, "get", kept, **NORTH).status_code == 200
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(free_port())
    try:
        response = served(client, "get", kept, **NORTH)
        uncached = served(client, "get", READS, **NORTH)
    finally:
        connection.settings_dict["PORT"] = port
        connection.close()
    assert response.status_code == 200
    assert "Разрешение на строительство" in response.content.decode()
    assert uncached.status_code == 503
