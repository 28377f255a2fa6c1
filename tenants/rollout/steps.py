"""One step of a rollout: upgrade one schema and check it, in a worker process or in the
rollout's own. Each step records its progress in its RolloutStep row itself, so the row is
right even if the process that started the rollout dies."""

import logging
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import close_old_connections, connections
from django.db.models import F
from django.utils import timezone

from tenants import tenant_cache
from tenants.db import connection
from tenants.host_cache import host_cache
from tenants.launch import template
from tenants.models import RolloutStep, Tenant

from . import health
from .engine import get_engine

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    step_id: int
    schema_name: str
    slug: str
    ring: int
    status: str
    seconds: float
    applied: list[str] = field(default_factory=list)
    error: str = ""
    health: dict[str, Any] = field(default_factory=dict)


def run_step(job: dict[str, Any]) -> dict[str, Any]:
    """Upgrade one schema and health-check it; returns a StepResult as a dict."""
    started = time.perf_counter()
    step_id, schema_name = job["step_id"], job["schema_name"]
    result = StepResult(step_id=step_id, schema_name=schema_name, slug=job["slug"],
                        ring=job["ring"], status=RolloutStep.Status.DONE, seconds=0.0)
    connection.set_schema_to_public()
    RolloutStep.objects.filter(pk=step_id).update(
        status=RolloutStep.Status.RUNNING, started_at=timezone.now(), finished_at=None,
        attempts=F("attempts") + 1, error="")
    try:
        if job["kind"] == RolloutStep.Kind.TEMPLATE:
            _upgrade_template(job, result)
        else:
            _upgrade_tenant(job, result)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded and reported
        result.status = RolloutStep.Status.FAILED
        result.error = result.error or describe_error(exc)
        log.warning("Rollout step %s failed: %s", schema_name, result.error)
    result.seconds = round(time.perf_counter() - started, 3)
    connection.set_schema_to_public()
    RolloutStep.objects.filter(pk=step_id).update(
        status=result.status, error=result.error, applied=result.applied,
        health=result.health, finished_at=timezone.now(), seconds=result.seconds)
    # A step is a unit of work, like a request or a task: a worker's connection is recycled
    # after DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION schemas (tenants/postgresql_backend), or its
    # server process would keep the catalog caches of every schema the worker migrated and
    # checked, and grow slower with them (measured at 2,000 tenants: docs/scaling.md).
    close_old_connections()
    return asdict(result)


def _upgrade_tenant(job: dict[str, Any], result: StepResult) -> None:
    tenant = Tenant.objects.get(pk=job["tenant_id"])
    engine = get_engine()
    current: list[str] = []  # the migration being applied, for the error message
    Tenant.objects.filter(pk=tenant.pk).update(maintenance=True)
    tenant.maintenance = True
    try:
        connection.set_tenant(tenant)
        result.applied = engine.migrate_current_schema(emit_signals=job["signals"],
                                                       on_migration=current.append)
    except Exception as exc:
        result.error = (f"{current[-1]}: " if current else "") + describe_error(exc)
        raise
    finally:
        connection.set_schema_to_public()
        Tenant.objects.filter(pk=tenant.pk).update(maintenance=False)
        tenant.maintenance = False
    if result.applied:
        # What the tenant's cache pickled before holds the models as they were: stale now.
        tenant_cache.changed(tenant.schema_name)
    if job["health"]:
        connection.set_tenant(tenant)
        try:
            result.health = health.run_health_check(
                tenant, tenant.schema_name, pages=tenant.status == Tenant.Status.ACTIVE)
        except health.HealthCheckFailed as exc:
            result.health = exc.results
            result.error = f"health check: {exc}"
            raise
        finally:
            connection.set_schema_to_public()
    Tenant.objects.filter(pk=tenant.pk).update(release=job["release"])


# The template's snapshot being taken while the tenants migrate (job "snapshot_later"): the
# rollout's own process finishes it after its rings (runner.finish_template_snapshot).
pending_snapshots: list[template.PendingSnapshot] = []


def _upgrade_template(job: dict[str, Any], result: StepResult) -> None:
    before = set(_applied(template.TEMPLATE_SCHEMA))
    engine = get_engine()
    try:
        pending = template.start_refresh(
            migrate=lambda: engine.migrate_current_schema(emit_signals=job["signals"]))
        if job.get("snapshot_later"):
            pending_snapshots.append(pending)
        else:
            pending.finish()
    finally:
        connection.set_schema_to_public()
    result.applied = sorted(f"{a}.{n}" for a, n in set(_applied(template.TEMPLATE_SCHEMA))
                            - before)
    if job["health"]:
        connection.set_schema(template.TEMPLATE_SCHEMA)
        try:
            result.health = health.run_health_check(None, template.TEMPLATE_SCHEMA, pages=False)
        except health.HealthCheckFailed as exc:
            result.health = exc.results
            result.error = f"health check: {exc}"
            raise
        finally:
            connection.set_schema_to_public()


def _applied(schema_name: str) -> list[tuple[Any, ...]]:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {quote(schema_name)}.django_migrations")  # noqa: S608 - names quoted with quote_name, values passed as parameters # nosec B608
        return [tuple(row) for row in cursor.fetchall()]


def describe_error(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f for f in reversed(frames) if "/migrations/" in f.filename), None)
    if where:
        text += f" (at {Path(where.filename).parent.parent.name}/migrations/"
        text += f"{Path(where.filename).name}:{where.lineno})"
    return text[:2000]


def child_init() -> None:
    # Connections were closed before the fork; make sure no state of the parent's is reused.
    for conn in connections.all(initialized_only=True):
        conn.connection = None
    host_cache.clear()
