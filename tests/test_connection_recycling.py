"""Connection recycling by tenant schemas visited (tenants/postgresql_backend/), on the real
PostgreSQL and through Django's real WSGI handler, whose request_started/request_finished
signals run the connection checks (the test client leaves them out).

The connection is closed after the request that brings it to DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION
tenant schemas, never during one or inside a transaction, and the next query runs on a new
PostgreSQL backend (another pid). These tests run outside the usual rolled-back transaction, as
a web process does, and only read the committed session tenants.
"""

import io
import time
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection, connections, transaction
from django_tenants.utils import schema_context

from tests.factories import NORTH, SOUTH, own_connection

RYABINOVKA = {"HTTP_HOST": "ryabinovka.localhost"}


@pytest.fixture
def live_db(session_tenants, django_db_blocker):
    """The committed session tenants in autocommit, on a connection of the test's own."""
    with django_db_blocker.unblock():
        connection.close()
        connection.set_schema_to_public()
        yield session_tenants
        connection.close()


def serve(host: dict[str, str]) -> list[int]:
    """GET the home page on `host` through Django's WSGI handler; the backend pid of every
    query the request ran (read from the driver: no query of its own). With a query string,
    so that its content is rendered and each request runs queries (a page kept in the
    tenant's cache runs none: cms/page_cache.py)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/ru/", "QUERY_STRING": "from=test",
               "wsgi.input": io.BytesIO(), **host}
    setup_testing_defaults(environ)
    pids: list[int] = []
    statuses: list[str] = []

    def record(execute, sql, params, many, context):
        pids.append(connection.connection.info.backend_pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
        b"".join(response)
        response.close()  # request_finished: the connection check after the request
    assert statuses == ["200 OK"], statuses
    return pids


def backend_pid() -> int | None:
    """The pid of the connection's PostgreSQL backend, None when it is closed."""
    return connection.connection.info.backend_pid if connection.connection else None


def backend_gone(pid: int) -> bool:
    """True once PostgreSQL no longer lists the backend (a closed client's backend exits
    shortly after, not at once)."""
    with own_connection(autocommit=True) as other:
        for _ in range(50):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                 [pid]).fetchone():
                return True
            time.sleep(0.1)
    return False


def test_connection_recycled_after_the_request_that_reaches_the_limit(live_db, settings):
    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 2

    first = serve(NORTH)
    (pid,) = set(first)  # every query of the request on one backend
    assert backend_pid() == pid
    assert connection.schemas_visited == {"north"}

    second = serve(SOUTH)
    assert set(second) == {pid}  # the whole request on the same backend: never mid-request
    assert backend_pid() is None  # closed once it had finished: two tenant schemas
    assert backend_gone(pid)

    third = serve(NORTH)
    (new_pid,) = set(third)
    assert new_pid != pid
    assert connection.schemas_visited == {"north"}  # counted again from the new backend


def test_public_schema_and_repeat_visits_are_not_counted(live_db, settings):
    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    (pid,) = set(serve(NORTH))
    for _ in range(3):
        assert set(serve(NORTH)) == {pid}
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    close_old_connections()
    assert backend_pid() == pid
    assert connection.schemas_visited == {"north"}


def test_zero_never_recycles(live_db, settings):
    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 0
    pids = serve(NORTH) + serve(SOUTH) + serve(RYABINOVKA)
    assert len(set(pids)) == 1
    assert backend_pid() == pids[0]
    assert connection.schemas_visited == {"north", "south", "ryabinovka"}


def test_never_inside_a_transaction(live_db, settings):
    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    pids = []

    def record(execute, sql, params, many, context):
        pids.append(connection.connection.info.backend_pid)
        return execute(sql, params, many, context)

    with transaction.atomic(), connection.execute_wrapper(record):
        for schema in ("north", "south", "ryabinovka"):  # past the limit half-way
            with schema_context(schema), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM wagtailcore_page")
                assert cursor.fetchone()[0] > 0
    assert len(pids) >= 3 and len(set(pids)) == 1  # the whole transaction on one backend
    assert connection.schemas_visited == {"north", "south", "ryabinovka"}
    close_old_connections()  # the transaction is over: the next request boundary recycles
    assert backend_pid() is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pids[0]


@pytest.mark.django_db  # also makes a run of this module alone set up the test database
def test_the_default_connection_recycles_after_100_schemas_unless_configured():
    from dgbox.settings import base
    from tenants.postgresql_backend.base import DatabaseWrapper

    assert isinstance(connections["default"], DatabaseWrapper)
    assert base.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION == 100


def test_a_rollout_step_is_a_boundary_like_a_request(live_db, settings):
    """A rollout worker runs many steps on one connection: each step ends with the same check
    as a request, so a worker's PostgreSQL backend does not keep the catalog caches of every
    schema it migrated (tenants/rollout/steps.py)."""
    from tenants.models import RolloutStep
    from tenants.rollout.steps import run_step

    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    for schema in ("north", "south"):
        connection.set_schema(schema)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    connection.set_schema_to_public()
    pid = backend_pid()
    assert pid is not None and connection.schemas_visited == {"north", "south"}

    # A step whose tenant is gone: it fails, is recorded, and still ends at the boundary.
    job = {"step_id": -1, "schema_name": "gone", "slug": "gone", "ring": 0,
           "kind": RolloutStep.Kind.TENANT, "tenant_id": -1, "signals": False,
           "health": False, "release": "test"}
    assert run_step(job)["status"] == RolloutStep.Status.FAILED
    assert backend_pid() is None
    assert backend_gone(pid)


def test_a_rollout_step_keeps_the_connection_below_the_limit(live_db, settings):
    from tenants.models import RolloutStep
    from tenants.rollout.steps import run_step

    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 3
    connection.set_schema("north")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    connection.set_schema_to_public()
    pid = backend_pid()
    job = {"step_id": -1, "schema_name": "gone", "slug": "gone", "ring": 0,
           "kind": RolloutStep.Kind.TENANT, "tenant_id": -1, "signals": False,
           "health": False, "release": "test"}
    run_step(job)
    assert backend_pid() == pid
