"""The session engine (dgbox/sessions.py): qsessions' database sessions, a new one made with
one INSERT and an existing one written with one UPDATE; what qsessions keeps beside each
session (user, browser, address, created) stays right. Real PostgreSQL, in a tenant's schema."""

import pytest
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context
from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY
from qsessions.models import Session

from dgbox.sessions import SessionStore

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (Linux; Android 14) Яндекс.Браузер/24.1"


def test_an_existing_session_is_written_with_one_statement(
        tenant_a, django_assert_num_queries):
    with tenant_context(tenant_a):
        store = SessionStore(user_agent=BROWSER, ip="192.0.2.7")
        store["dgbox_drafts"] = {"1": "draft"}
        store.save()  # a new session: one INSERT (below)
        row = Session.objects.get(session_key=store.session_key)
        created, key = row.created_at, store.session_key
        assert created is not None and row.ip == "192.0.2.7" and row.user_agent == BROWSER

        again = SessionStore(session_key=key, user_agent="curl/8.5", ip="2001:db8::1")
        again["dgbox_done"] = {"1": "NOR-2026-000001"}
        again["note"] = "Анна \x00 " + "я" * 5000
        with django_assert_num_queries(1):  # read above (setting a key loads it): one UPDATE
            again.save()
        row = Session.objects.get(session_key=key)
        assert row.created_at == created and row.updated_at > created
        assert (row.user_agent, row.ip) == ("curl/8.5", "2001:db8::1")
        data = SessionStore(session_key=key).load()
        assert data["dgbox_drafts"] == {"1": "draft"}
        assert data["dgbox_done"] == {"1": "NOR-2026-000001"}
        assert data["note"].startswith("Анна \x00 ")
        assert (data[USER_AGENT_SESSION_KEY], data[IP_SESSION_KEY]) == ("curl/8.5",
                                                                        "2001:db8::1")


def test_a_session_ended_meanwhile_is_not_written_again(tenant_a):
    with tenant_context(tenant_a):
        store = SessionStore(user_agent=BROWSER, ip="192.0.2.7")
        store["a"] = 1
        store.save()
        stale = SessionStore(session_key=store.session_key, user_agent=BROWSER,
                             ip="192.0.2.7")
        assert stale["a"] == 1  # read by this request
        Session.objects.filter(session_key=store.session_key).delete()  # then ended elsewhere
        stale["a"] = 2
        with pytest.raises(UpdateError):
            stale.save()
        assert not Session.objects.filter(session_key=store.session_key).exists()


def test_a_new_session_is_made_with_one_statement(tenant_a):
    with tenant_context(tenant_a):
        store = SessionStore(user_agent=BROWSER, ip="2001:db8::7")
        store["dgbox_done"] = {"1": "NOR-2026-000001"}
        with CaptureQueriesContext(connection) as captured:
            store.save()
        # No "does the key exist?", no read-back, no transaction of its own (the statements
        # counted are the session table's: entering the tenant may set the search path).
        statements = [q["sql"] for q in captured.captured_queries
                      if "qsessions_session" in q["sql"] or "SAVEPOINT" in q["sql"]]
        assert len(statements) == 1 and statements[0].startswith("INSERT INTO")
        row = Session.objects.get(session_key=store.session_key)
        assert row.created_at is not None and row.updated_at == row.created_at
        assert (row.ip, row.user_agent) == ("2001:db8::7", BROWSER)
        assert SessionStore(session_key=store.session_key).load()["dgbox_done"] == {
            "1": "NOR-2026-000001"}


def test_a_new_session_never_takes_over_an_existing_key(tenant_a):
    """A key drawn again (never in practice: 32 random characters) inserts nothing and is
    Django's CreateError, which its create() answers with another key; the session that
    had the key keeps its data and owner."""
    with tenant_context(tenant_a):
        owner = SessionStore(user_agent=BROWSER, ip="192.0.2.7")
        owner["mine"] = "Анна"
        owner.save()
        intruder = SessionStore(user_agent="curl/8.5", ip="192.0.2.8")
        intruder._session_key = owner.session_key
        intruder["mine"] = "someone else"
        with pytest.raises(CreateError):
            intruder.save(must_create=True)
        assert SessionStore(session_key=owner.session_key).load()["mine"] == "Анна"
        assert Session.objects.get(session_key=owner.session_key).ip == "192.0.2.7"
        assert not Session.objects.filter(ip="192.0.2.8").exists()
