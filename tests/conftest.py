"""Shared fixtures: real PostgreSQL (test database with the template schema and spare pool
built once by `migrate`), committed session tenants, a real Celery worker on Redis.

Tests run inside a transaction that is rolled back, launches included: PostgreSQL DDL is
transactional, so a tenant launched in a test disappears with its schema afterwards.
"""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import get_public_schema_name

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _public_schema_each_test():
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


def launch(name, kind="region", **kwargs):
    from tenants.provisioning import LaunchRequest, launch_tenant

    kwargs.setdefault("admin_email", f"admin@{uuid.uuid4().hex[:6]}.example")
    return launch_tenant(LaunchRequest(name=name, kind=kind, **kwargs))


@pytest.fixture(scope="session")
def session_tenants(django_db_setup, django_db_blocker):
    """Two regions and a municipality, committed (visible to a worker process)."""
    with django_db_blocker.unblock():
        a = launch("Северная область", slug="north", admin_email="admin@north.example")
        b = launch("Южная область", slug="south", admin_email="admin@south.example")
        m = launch("Рябиновка", kind="municipality", parent="north", slug="ryabinovka")
        from django_tenants.utils import tenant_context

        from cms.demo_content import populate

        for tenant in (a.tenant, b.tenant):
            with tenant_context(tenant):
                populate("ru")
        connection.set_schema_to_public()
    return {"a": a.tenant, "b": b.tenant, "m": m.tenant}


@pytest.fixture
def tenant_a(session_tenants, db):
    return session_tenants["a"]


@pytest.fixture
def tenant_b(session_tenants, db):
    return session_tenants["b"]


def _redis_url() -> str:
    from infra.localservices import ensure_redis

    url = os.environ.get("REDIS_URL") or ensure_redis(required=True)
    return url.rsplit("/", 1)[0] + "/15"  # a database of its own for the test run


@pytest.fixture(scope="session")
def celery_worker(session_tenants, django_db_setup):
    """A real Celery worker process (solo pool) on a real Redis broker, on the test database.

    The test process sends tasks through the broker (not eagerly) while this fixture is used.
    """
    from django.conf import settings

    from dgbox.celery import app

    redis_url = _redis_url()
    queue = f"dgbox-test-{os.getpid()}"
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
        "DATABASE_URL": _database_url(db),
        "REDIS_URL": redis_url,
        "DGBOX_LOG_LEVEL": "WARNING",
        "DGBOX_CELERY_QUEUE": queue,
        "DGBOX_CELERY_EAGER": "0",
    })
    settings.STATE_DIR.mkdir(parents=True, exist_ok=True)
    log_path = settings.STATE_DIR / "test-worker.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager",
                                       "task_default_queue")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False,
                    task_default_queue=queue)
    _forget_connections(app)
    try:
        _wait_for_worker(app, proc, log_path)
        yield app
    finally:
        app.conf.update(saved)
        _forget_connections(app)
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _forget_connections(app):
    """Celery caches its producer pool, control mailbox and result backend on first use;
    drop them so the new broker and backend settings take effect."""
    import threading

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    for attr in ("amqp", "control", "events"):
        app.__dict__.pop(attr, None)
    app._local = threading.local()


def _wait_for_worker(app, proc, log_path):
    # Readiness, not speed: generous, and fails with the worker's log rather than hanging.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited: see {log_path}")
        replies = app.control.ping(timeout=1.0, destination=None) or []
        if replies:
            return
    raise RuntimeError(f"Celery worker did not answer within 120 s: see {log_path}")


def _database_url(db) -> str:
    from urllib.parse import quote

    host = quote(db.get("HOST") or "", safe="")
    auth = db.get("USER") or "postgres"
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{db['NAME']}"


@pytest.fixture
def public_schema():
    return get_public_schema_name()
