"""Which PgBouncer pool modes are safe with schema-per-tenant routing, proved on a real
pgbouncer (Debian's package; `make test` installs it when run as root).

django-tenants routes a connection by `SET search_path`, a session setting. The tests start
pgbouncer in front of the test PostgreSQL with fewer server connections than clients, route
two tenants through it with django-tenants' own database wrapper (the class the project's
`default` connection is) and compare what each query reads with the tenant that asked:

- session mode: a client keeps its server connection while connected, and pgbouncer runs
  `DISCARD ALL` before the next client gets it, so a search path never crosses clients;
- transaction mode: the server connection goes back to the pool after every transaction.
  With TENANT_LIMIT_SET_CALLS (dgbox's setting: `SET` once per switch) the next query of
  tenant A runs on whatever search path the last client left: tenant B's rows. Without it
  (`SET` on every cursor) the `SET` and the query are still two autocommit transactions,
  and another client's `SET` slips in between.

Hence `DGBOX_DB_POOLER=pgbouncer-session` is supported and `pgbouncer-transaction` refuses
to start (tested at the end, through the real settings).
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connections, transaction

ROOT = Path(__file__).resolve().parent.parent
PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")
TENANTS = ("tenant_a", "tenant_b")

needs_pgbouncer = pytest.mark.skipif(
    PGBOUNCER is None,
    reason="pgbouncer is not installed: `make test` installs it when run as root "
    "(apt-get install pgbouncer)",
)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server():
    """Host, port, user and password of the test PostgreSQL."""
    s = connections["default"].settings_dict
    return s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432), s["USER"] or "postgres", \
        s["PASSWORD"] or ""


@pytest.fixture(scope="module")
def pooled_database():
    """A database of its own: schemas tenant_a and tenant_b and public, each with a table
    `marker` holding the schema's name."""
    host, port, user, password = _server()
    name = f"dgbox_pgbouncer_{os.getpid()}"
    admin = {"host": host, "port": port, "user": user, "password": password, "autocommit": True}
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dbname=name, **admin) as conn:
        for schema in (*TENANTS, "public"):
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'CREATE TABLE "{schema}".marker (tag text)')
            conn.execute(f'INSERT INTO "{schema}".marker VALUES (%s)', [schema])
    yield name
    with psycopg.connect(dbname="postgres", **admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pgbouncer(database, pool_mode, pool_size, server_lifetime=3600):
    """A real pgbouncer on a free 127.0.0.1 port: `pool_size` server connections at most,
    each closed once unused and older than `server_lifetime` seconds (pgbouncer's default
    3600; 0: as soon as its client leaves)."""
    host, port, user, password = _server()
    listen = _free_port()
    with tempfile.TemporaryDirectory(prefix="dgbox-pgbouncer-") as tmp:
        ini = Path(tmp) / "pgbouncer.ini"
        pw = f" password={password}" if password else ""
        ini.write_text(
            "[databases]\n"
            f"pooled = host={host} port={port} dbname={database} user={user}{pw}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
            "auth_type = any\n"
            f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\n"
            "min_pool_size = 0\nreserve_pool_size = 0\nmax_client_conn = 100\n"
            "server_reset_query = DISCARD ALL\n"
            f"server_lifetime = {server_lifetime}\n"
            f"logfile = {tmp}/pgbouncer.log\n"
            # pgbouncer will not run as root: it drops to this user after reading the config.
            + ("user = postgres\n" if os.geteuid() == 0 else "")
        )
        os.chmod(tmp, 0o777)  # noqa: S103 (the log file is written after dropping root)
        proc = subprocess.Popen([PGBOUNCER, str(ini)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", listen), timeout=0.2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log = Path(tmp, "pgbouncer.log")
                        pytest.fail("pgbouncer did not start: "
                                    + (proc.stdout.read().decode() if proc.stdout else "")
                                    + (log.read_text() if log.exists() else ""))
                    time.sleep(0.05)
            yield listen
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def django_connection(port, alias):
    """A new connection of the project's database backend (django-tenants' wrapper, with
    dgbox's settings) to the pooler."""
    default = connections["default"]
    # Registered under its own alias: django.contrib.postgres looks the connection up by
    # alias when it connects. The fixture `open_connections` removes the aliases again.
    connections.settings[alias] = {**default.settings_dict, "HOST": "127.0.0.1", "PORT": port,
                                   "NAME": "pooled", "USER": "postgres", "PASSWORD": ""}
    return connections[alias]


def read(conn):
    """The marker of the schema this connection's query really ran in, and its server."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT tag, pg_backend_pid() FROM marker")
        return cursor.fetchone()


@pytest.fixture
def open_connections(django_db_blocker):
    opened = []
    with django_db_blocker.unblock():
        yield opened
        for conn in opened:
            conn.close()
        for alias in [a for a in connections.settings if a.startswith("pooled-")]:
            del connections.settings[alias]
            try:
                del connections[alias]  # this thread's wrapper; the threads' went with them
            except AttributeError:
                pass


@needs_pgbouncer
def test_session_mode_never_serves_one_tenants_query_in_anothers_schema(
        pooled_database, open_connections):
    with pgbouncer(pooled_database, "session", pool_size=2) as port:
        # Two clients connected at once, alternating: each keeps its own server connection.
        a, b = django_connection(port, "pooled-a"), django_connection(port, "pooled-b")
        open_connections += [a, b]
        a.set_schema("tenant_a")
        b.set_schema("tenant_b")
        servers = {"tenant_a": set(), "tenant_b": set()}
        for _ in range(50):
            for conn, tenant in ((a, "tenant_a"), (b, "tenant_b")):
                tag, pid = read(conn)
                assert tag == tenant
                servers[tenant].add(pid)
        assert len(servers["tenant_a"]) == len(servers["tenant_b"]) == 1
        assert servers["tenant_a"] != servers["tenant_b"]

        # Six clients in threads share the two server connections in turn (connect, read
        # before routing, route, read, disconnect): the next client never inherits the
        # previous one's search path, because pgbouncer resets the server first.
        a.close()
        b.close()
        seen, wrong, errors = set(), [], []

        def client(number):
            tenant = TENANTS[number % 2]
            try:
                for i in range(8):
                    conn = django_connection(port, f"pooled-{number}-{i}")
                    try:
                        conn.ensure_connection()
                        with conn.connection.cursor() as raw:  # before django-tenants' SET
                            tag, pid = raw.execute(
                                "SELECT tag, pg_backend_pid() FROM marker").fetchone()
                        if tag != "public":
                            wrong.append(("inherited", tag))
                        conn.set_schema(tenant)
                        tag, pid = read(conn)
                        seen.add(pid)
                        if tag != tenant:
                            wrong.append((tenant, tag))
                    finally:
                        conn.close()
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                errors.append(error)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert not wrong
        assert 1 <= len(seen) <= 2  # 48 client sessions served by at most two servers


@needs_pgbouncer
@pytest.mark.parametrize(("server_lifetime", "new_backend"), [(3600, False), (0, True)])
def test_session_mode_ends_a_recycled_backend_only_with_a_short_server_lifetime(
        pooled_database, open_connections, settings, server_lifetime, new_backend):
    """dgbox recycles its connection after DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION schemas to
    give the backend's catalog caches back (tenants/postgresql_backend/). Through pgbouncer
    that only closes the client: pgbouncer's `DISCARD ALL` keeps the server connection, caches
    and all, for the next client, unless `server_lifetime` has passed (0: at once)."""
    settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION = 2
    with pgbouncer(pooled_database, "session", pool_size=1,
                   server_lifetime=server_lifetime) as port:
        conn = django_connection(port, "pooled-recycled")
        open_connections.append(conn)
        pids = set()
        for tenant in TENANTS:
            conn.set_schema(tenant)
            tag, pid = read(conn)
            assert tag == tenant
            pids.add(pid)
        (first,) = pids
        conn.close_if_unusable_or_obsolete()  # what Django runs after each request
        assert conn.connection is None  # dgbox closed its (client) connection

        conn.set_schema("tenant_a")
        tag, pid = read(conn)
        assert tag == "tenant_a"
        assert (pid != first) is new_backend


@needs_pgbouncer
def test_transaction_mode_serves_tenant_a_from_tenant_bs_schema(
        pooled_database, open_connections, settings):
    """dgbox's own configuration (TENANT_LIMIT_SET_CALLS: one `SET` per switch)."""
    settings.TENANT_LIMIT_SET_CALLS = True
    with pgbouncer(pooled_database, "transaction", pool_size=1) as port:
        a, b = django_connection(port, "pooled-a"), django_connection(port, "pooled-b")
        open_connections += [a, b]
        a.set_schema("tenant_a")
        b.set_schema("tenant_b")
        assert read(a)[0] == "tenant_a"
        assert read(b)[0] == "tenant_b"
        # A's next query: django-tenants sends no SET (A's schema has not changed), and the
        # one server connection carries the search path B left behind.
        assert read(a)[0] == "tenant_b"
        assert read(b)[0] == "tenant_b"


@needs_pgbouncer
def test_transaction_mode_leaks_even_with_a_set_on_every_cursor(
        pooled_database, open_connections, settings):
    """Stock django-tenants (`SET search_path` on every cursor): the `SET` and the query are
    two autocommit transactions, so another client's `SET` can run in between."""
    settings.TENANT_LIMIT_SET_CALLS = False
    with pgbouncer(pooled_database, "transaction", pool_size=1) as port:
        a, b = django_connection(port, "pooled-a"), django_connection(port, "pooled-b")
        open_connections += [a, b]
        a.set_schema("tenant_a")
        b.set_schema("tenant_b")
        with a.cursor() as cursor_a:  # issues A's SET
            with b.cursor() as cursor_b:  # issues B's SET on the same server
                cursor_a.execute("SELECT tag FROM marker")
                assert cursor_a.fetchone()[0] == "tenant_b"
                cursor_b.execute("SELECT tag FROM marker")
                assert cursor_b.fetchone()[0] == "tenant_b"


@needs_pgbouncer
def test_transaction_mode_is_right_only_when_each_transaction_sets_its_own_path(
        pooled_database, open_connections, settings):
    """Where the line is: four clients on two server connections, every query in its own
    transaction (atomic) whose first statement is the cursor's `SET` (stock django-tenants,
    TENANT_LIMIT_SET_CALLS off), read only their own tenant; the same clients with dgbox's
    one `SET` per switch do not (measured: about half of 1,200 reads were another tenant's).
    dgbox runs most reads in autocommit and keeps TENANT_LIMIT_SET_CALLS, so it needs
    session pooling."""
    settings.TENANT_LIMIT_SET_CALLS = False
    with pgbouncer(pooled_database, "transaction", pool_size=2) as port:
        wrong, errors = [], []

        def client(number):
            alias = f"pooled-t{number}"
            conn = django_connection(port, alias)
            tenant = TENANTS[number % 2]
            conn.set_schema(tenant)
            try:
                for _ in range(150):
                    with transaction.atomic(using=alias):
                        tag = read(conn)[0]
                    if tag != tenant:
                        wrong.append((tenant, tag))
            except Exception as error:  # noqa: BLE001 (reported by the assertion below)
                errors.append(error)
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        assert not wrong


def _start(pooler):
    env = {**os.environ, "DGBOX_DB_POOLER": pooler}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.DGBOX_DB_POOLER)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("pooler", ["none", "pgbouncer-session"])
def test_the_safe_poolers_start(pooler):
    proc = _start(pooler)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == pooler


@pytest.mark.parametrize("pooler", ["pgbouncer-transaction", "pgbouncer-statement", "yes"])
def test_an_unsafe_or_unknown_pooler_refuses_to_start(pooler):
    proc = _start(pooler)
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert "DGBOX_DB_POOLER" in proc.stderr
    if pooler != "yes":
        assert "pool_mode = session" in proc.stderr
