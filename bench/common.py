"""Helpers shared by the benchmarks."""

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def database_url(name: str, fresh: bool) -> str:
    """URL of the benchmark's own database `name` on the configured (or embedded) server;
    dropped first when `fresh`."""
    import psycopg

    from infra.localservices import ensure_database, ensure_postgres

    base = os.environ.get("DATABASE_URL") or ensure_postgres(name)
    url = urlunsplit(urlsplit(base)._replace(path="/" + name))
    if fresh:
        parts = urlsplit(url)
        with psycopg.connect(host=parts.hostname, port=parts.port or 5432,
                             user=parts.username or None, password=parts.password or None,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ensure_database(url)
    return url


def setup_django(database: str, fresh: bool, **env: str) -> None:
    """django.setup() in this process on the benchmark's own `database` (dropped first when
    `fresh`), with the production settings unless DJANGO_SETTINGS_MODULE says otherwise,
    without debug and with quiet logs (a benchmark measures requests, not logging); `env` is
    the benchmark's own environment, set before the settings are read."""
    os.environ["DATABASE_URL"] = database_url(database, fresh)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.base")
    os.environ["DGBOX_DEBUG"] = "0"
    os.environ["DGBOX_LOG_LEVEL"] = "ERROR"
    os.environ.update(env)
    import django

    django.setup()


def migrate_once(console) -> None:
    """Migrate the benchmark database if it is behind (its first run), in the public schema,
    and run Celery tasks in this process (a launch's follow-up work happens before timing)."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from dgbox.celery import app

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        with console.status("Migrating the benchmark database (first run only)..."):
            call_command("migrate", interactive=False, verbosity=0)
    app.conf.task_always_eager = True


def signed_in_operator():
    """A test client signed in as a national operator whose session is verified with a
    second factor (what django-otp's login records after a right code)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """gunicorn serving dgbox.wsgi (gthread, `workers` x `threads`) on a loopback port of its
    own with the given environment; its output goes to `log`. Waits for /healthz."""

    def __init__(self, env: dict, log: Path, workers: int = 2, threads: int = 4,
                 app: str = "dgbox.wsgi:application", root: Path = ROOT):
        """`app` and `root` (its working directory): another WSGI application or another
        checkout of dgbox (bench/submit_step.py serves the code before a change beside it)."""
        self.port = free_port()
        self.log = log
        self.workers, self.threads = workers, threads
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), app,
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
             "--threads", str(threads), "--worker-class", "gthread",
             "--timeout", "120", "--graceful-timeout", "10", "--log-level", "warning",
             "--error-logfile", str(log)],
            env=env, cwd=root, stdout=log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within 60 s; see {log}")

    def pids(self) -> list[int]:
        import psutil

        with contextlib.suppress(psutil.Error):
            master = psutil.Process(self.proc.pid)
            return [master.pid] + [child.pid for child in master.children(recursive=True)]
        return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # gunicorn: graceful shutdown of its workers
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
