"""Shared fixtures: real PostgreSQL (test database with the template schema and spare pool
built once by `migrate`), committed session tenants, a real Celery worker on Redis, the run's
S3 bucket; and what several test modules need: work on a connection of its own
(`in_thread`), Celery on a private Redis (`celery_on`, `private_redis`), the SMS log
(`sms_log`, `read_sms_log`), the workflow editor (`editor`).

Tests run inside a transaction that is rolled back, launches included: PostgreSQL DDL is
transactional, so a tenant launched in a test disappears with its schema afterwards.

Rows are made by tests/factories.py; test modules never import one another or a conftest
(tests/test_architecture.py checks).
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from django_tenants.utils import get_public_schema_name

from dgbox.settings.base import cache_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _public_schema_each_test():
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _tenant_cache_forgotten():
    """What applications read and editors change is cached between requests
    (tenants/tenant_cache.py); a test's rolled-back rows must not reach the next."""
    yield
    from tenants import tenant_cache  # with the app, after Django's set-up

    tenant_cache.forget_all()


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Tasks run in-process (eagerly) except in tests that use the real worker: once the
    session's worker has started, the app would otherwise keep sending to it, and it cannot
    see a test's uncommitted rows."""
    if "celery_worker" in request.fixturenames:
        yield
        return
    from dgbox.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture(scope="session")
def session_tenants(django_db_setup, django_db_blocker):
    """Two regions and a municipality, committed (visible to a worker process)."""
    from tests.factories import launch

    with django_db_blocker.unblock():
        a = launch("Северная область", slug="north", admin_email="admin@north.example")
        b = launch("Южная область", slug="south", admin_email="admin@south.example")
        m = launch("Рябиновка", kind="municipality", parent="north", slug="ryabinovka")
        from django_tenants.utils import tenant_context

        from demo.site import populate

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
    from tests.factories import database_url_of

    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
        "DATABASE_URL": database_url_of(db),
        "REDIS_URL": redis_url,
        "DGBOX_LOG_LEVEL": "WARNING",
        "DGBOX_CELERY_QUEUE": queue,
        "DGBOX_CELERY_EAGER": "0",
    })
    settings.STATE_DIR.mkdir(parents=True, exist_ok=True)
    log_path = settings.STATE_DIR / "test-worker.log"
    log = open(log_path, "w")  # closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--pool=solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    saved = {k: app.conf[k] for k in ("broker_url", "result_backend", "task_always_eager",
                                       "task_default_queue")}
    app.conf.update(broker_url=redis_url, result_backend=redis_url, task_always_eager=False,
                    task_default_queue=queue)
    from tests.factories import forget_celery_connections

    forget_celery_connections(app)
    try:
        _wait_for_worker(app, proc, log_path)
        yield app
    finally:
        app.conf.update(saved)
        from tests.factories import forget_celery_connections

        forget_celery_connections(app)
        _stop_process(proc)
        log.close()


def _stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM, then up to 30 s for a graceful end (a worker finishing its task, gunicorn its
    requests), then SIGKILL: a test's server never outlives the test."""
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def stop_process():
    """stop_process(proc): end a server a test started (terminate, wait, kill if needed)."""
    return _stop_process


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


@pytest.fixture
def public_schema():
    return get_public_schema_name()


@pytest.fixture
def database_url(django_db_setup):
    """The test database as a DATABASE_URL, for the processes a test starts."""
    from django.conf import settings

    from tests.factories import database_url_of

    return database_url_of(settings.DATABASES["default"])


# --- Committed rows: work on a connection of its own ------------------------------------------
def _in_thread(fn, *args):
    """Run `fn` on its own database connection (so its writes commit and other connections
    see them) and return its result."""
    import threading

    from django.db import connections

    box = {}

    def target():
        try:
            box["value"] = fn(*args)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.fixture
def in_thread():
    """in_thread(fn, *args): `fn` run on a connection of its own, its writes committed; its
    result returned, its exception raised. The test removes what it committed."""
    return _in_thread


# --- Celery on a broker of the test's own ------------------------------------------------------
@contextmanager
def _celery_on(broker_url, queue):
    """Point the test process's Celery app at `broker_url` (as conftest's celery_worker
    does), and put it back afterwards."""
    from dgbox.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=broker_url, result_backend=broker_url, task_always_eager=False,
                    task_default_queue=queue)
    from tests.factories import forget_celery_connections

    forget_celery_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        from tests.factories import forget_celery_connections

        forget_celery_connections(app)


@pytest.fixture
def celery_on():
    """celery_on(broker_url, queue): a context manager sending the test process's tasks
    through that broker to that queue (not eagerly), and back afterwards; yields the app."""
    return _celery_on


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port():
    """A loopback port nothing listens on (free when asked)."""
    return _free_port()


def _drain(app, queue):
    """Take every task message off `queue` as a worker would: [(task, schema, args)]."""
    taken = []
    with app.connection_for_read() as conn:
        simple = conn.SimpleQueue(queue, no_ack=True)
        try:
            while True:
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    break
                args, _kwargs, _embed = message.decode()
                taken.append((message.headers["task"], message.headers["_schema_name"],
                              tuple(args)))
        finally:
            simple.close()
    return taken


@pytest.fixture
def drain():
    """drain(app, queue): take every task message off `queue` as a worker would, and return
    them as [(task name, tenant schema, args)]."""
    return _drain


@pytest.fixture
def private_redis(tmp_path):
    """A PrivateRedis (tests/faults/servers.py) in the test's temporary folder, not started
    yet; stopped at the end."""
    from tests.faults.servers import PrivateRedis

    broker = PrivateRedis(tmp_path)
    yield broker
    broker.stop()


@pytest.fixture
def redis_counters(private_redis):
    """The caches on a private, empty, real Redis, configured as production configures them."""
    private_redis.start()
    with override_settings(CACHES=cache_settings(private_redis.url, 0.5)):
        yield private_redis


@pytest.fixture
def fresh_counters():
    """The per-process caches of the test settings outlive a test: start each one empty
    (`pytestmark = pytest.mark.usefixtures("fresh_counters")` in a module counting calls)."""
    for alias in ("default", "counters"):
        caches[alias].clear()


# --- SMS -------------------------------------------------------------------------------------
@pytest.fixture
def sms_log(settings, tmp_path):
    """A private STATE_DIR, so the log SMS backend writes where only this test reads."""
    settings.STATE_DIR = tmp_path
    settings.DGBOX_SMS_BACKEND = "services.notifications.sms.LogSMSBackend"
    return tmp_path / "sms.log"


def _read_sms_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def read_sms_log():
    """read_sms_log(path): the SMS the log backend wrote there, one dict each ([] if none)."""
    return _read_sms_log


# --- The workflow editor ---------------------------------------------------------------------
@pytest.fixture
def editor(client, tenant_a):
    """The workflow editor in tenant A's admin: the tenant's administrator, reading the admin
    in English, logged in; a service on the standard workflow. A dict of client, tenant,
    workflow (the standard one), service and url (the standard workflow's edit page)."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import tenant_context
    from wagtail.users.models import UserProfile

    from services.models import Workflow
    from tests.factories import PERMIT_SPEC, OnlineServiceFactory

    with tenant_context(tenant_a):
        admin = get_user_model().objects.get(email="admin@north.example")
        profile = UserProfile.get_for_user(admin)
        profile.preferred_language = "en"
        profile.save()
        client.force_login(admin)
        standard = Workflow.default()
        service = OnlineServiceFactory(spec=PERMIT_SPEC)
    connection.set_schema_to_public()
    return {"client": client, "tenant": tenant_a, "workflow": standard, "service": service,
            "url": f"/admin/snippets/services/workflow/edit/{standard.pk}/"}


# --- S3 (infra/s3.py, infra/storage.py) -------------------------------------------------------
_S3_ENV = ("DGBOX_S3_ENDPOINT_URL", "DGBOX_S3_ACCESS_KEY", "DGBOX_S3_SECRET_KEY",
           "DGBOX_S3_TEST_BUCKET")
_s3_setup_error: list[Exception] = []


@pytest.fixture(scope="session", autouse=True)
def _s3_test_bucket():
    """The run's own bucket (test-dgbox-<pid>) on a real S3 server that checks signatures.

    The server: DGBOX_S3_ENDPOINT_URL (`make test` exports the loopback SeaweedFS), else the
    embedded one started or reused here. Its address, keys and the bucket are put in the
    environment for processes the tests start (the Celery worker). At the end the bucket is
    emptied and deleted. A failure here fails only the tests that ask for `s3_bucket`.
    """
    from django.conf import settings

    from infra import localservices, s3

    saved = {name: os.environ.get(name) for name in _S3_ENV}
    try:
        if not settings.DGBOX_S3_ENDPOINT_URL:
            (settings.DGBOX_S3_ENDPOINT_URL, settings.DGBOX_S3_ACCESS_KEY,
             settings.DGBOX_S3_SECRET_KEY) = localservices.ensure_s3()
        os.environ.update({
            "DGBOX_S3_ENDPOINT_URL": settings.DGBOX_S3_ENDPOINT_URL,
            "DGBOX_S3_ACCESS_KEY": settings.DGBOX_S3_ACCESS_KEY,
            "DGBOX_S3_SECRET_KEY": settings.DGBOX_S3_SECRET_KEY,
            "DGBOX_S3_TEST_BUCKET": settings.DGBOX_S3_BUCKET,
        })
        try:
            _drop_stale_test_buckets(s3)
        except Exception as err:  # noqa: BLE001 - housekeeping only
            print(f"could not remove stale test buckets: {err}", file=sys.stderr)  # noqa: T201
        s3.ensure_bucket()
    except Exception as err:  # noqa: BLE001 - reported by the s3_bucket fixture
        _s3_setup_error.append(err)
    yield settings.DGBOX_S3_BUCKET
    try:
        if not _s3_setup_error:
            _drop_bucket(s3, settings.DGBOX_S3_BUCKET)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3_bucket(_s3_test_bucket):
    """Name of the run's bucket; fails the test with the reason when S3 is not available."""
    if _s3_setup_error:
        pytest.fail(f"no S3 for the tests: {_s3_setup_error[0]}", pytrace=False)
    return _s3_test_bucket


def _drop_bucket(s3, bucket):
    s3.delete_keys([info.key for info in s3.iter_objects("", bucket=bucket)], bucket=bucket)
    client = s3.client()
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"],
                                      UploadId=upload["UploadId"])
    client.delete_bucket(Bucket=bucket)


def _drop_stale_test_buckets(s3):
    """Buckets of earlier runs on the loopback server whose process is gone (killed runs);
    each holds a SeaweedFS volume, and their number is limited."""
    import re
    from urllib.parse import urlsplit

    from django.conf import settings

    if urlsplit(settings.DGBOX_S3_ENDPOINT_URL).hostname not in ("127.0.0.1", "localhost"):
        return
    for bucket in s3.client().list_buckets().get("Buckets", []):
        found = re.fullmatch(r"test-dgbox-(\d+)", bucket["Name"])
        if not found or bucket["Name"] == settings.DGBOX_S3_BUCKET:
            continue
        try:
            os.kill(int(found[1]), 0)
        except ProcessLookupError:
            _drop_bucket(s3, bucket["Name"])
        except PermissionError:
            pass


@pytest.fixture
def committed(django_db_setup, django_db_blocker, s3_bucket):
    """Committed database access for tests that back up, restore or delete tenants; every
    tenant whose slug is added to the list is dropped afterwards, with its files (audit rows
    it left in `public` stay: nothing can delete them, and the test database goes with the
    run)."""
    from infra import s3
    from tenants.models import Domain, Tenant

    slugs: list[str] = []
    with django_db_blocker.unblock():
        yield slugs
        connection.set_schema_to_public()
        for slug in slugs:
            schema = slug.replace("-", "_")
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            Domain.objects.filter(tenant__slug=slug).delete()
            Tenant.objects.filter(slug=slug).delete()
            s3.delete_prefix(s3.tenant_prefix(schema))
