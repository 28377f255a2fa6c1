"""Running a rollout: public schema, template, then the tenants in rings, resumably.

Order: the public schema (if it has work), the template schema new tenants launch from
(re-snapshotted, stale spares dropped, pool refilled), then ring 1, the canary tenants (release
channel `canary` plus any named with --canary), then waves of --wave-size tenants. Each ring
runs with at most --workers tenants at a time (forked processes sharing the migration graph
and rendered state loaded once); each tenant is in maintenance (503) only while its own schema
migrates, then health-checked. A ring whose failures exceed --max-failures halts the rollout
after the tenants already started finish; no later ring is touched.

Everything is recorded in Rollout and RolloutStep rows (public schema): the next
`dgbox rollout run` of the same code resumes the rollout, skips the tenants already done and
retries the failed ones. Only one rollout runs at a time (a PostgreSQL advisory lock); a
process that was killed leaves its tenants in maintenance and its steps "running" until the
next run, which puts them right first.
"""

import logging
import math
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core import checks
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, transaction
from django.db.models import F
from django.utils import timezone

from tenants.db import connection
from tenants.launch.template import TEMPLATE_SCHEMA
from tenants.models import Rollout, RolloutStep, Tenant

from .control import halt_requested, wait_while_halted
from .engine import get_engine
from .plan import (
    Graph,
    Key,
    Plan,
    SchemaPlan,
    build_plan,
    migration_graph,
    public_plan,
    release_label,
    ring_of,
)
from .report import (
    RING_CANARY,
    RING_PLATFORM,
    options_dict,
    ring_name,
    rollout_report,
    started_by,
    write_report,
)
from .steps import StepResult, child_init, describe_error, pending_snapshots, run_step

log = logging.getLogger(__name__)

_LOCK_KEY = 0x64676278726F  # pg_advisory_lock key for rollouts ("dgbxro")


class RolloutError(Exception):
    """A rollout could not start, or stopped; the message says what to do."""


def check_before_migrating() -> None:
    """Django's model and database checks, which `migrate` runs before it migrates; raises
    RolloutError on any error. Called only when there is something to migrate: `dgbox rollout`
    skips the system checks at start-up (`requires_system_checks = []`), so a no-op run starts
    fast (docs/benchmarks.md), and the URL and admin checks say nothing about migrating."""
    found = checks.run_checks(tags=[checks.Tags.models, checks.Tags.database],
                              databases=[DEFAULT_DB_ALIAS])
    errors = [m for m in found if m.is_serious() and not m.is_silenced()]
    if errors:
        raise RolloutError(
            "Django's system checks found errors; nothing was migrated. Fix them (`dgbox check` "
            "lists them all), then run `dgbox rollout run` again:\n"
            + "\n".join(str(error) for error in errors))


class RolloutBusy(RolloutError):
    pass


def usable_cpus(cgroup_cpu_max: str = "/sys/fs/cgroup/cpu.max") -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (a
    container's CPU limit; `os.cpu_count()` would give the whole node's)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    try:
        quota, period = Path(cgroup_cpu_max).read_text().split()[:2]
    except (OSError, ValueError):
        return cpus
    if quota != "max" and int(period) > 0:
        cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    return cpus


@dataclass
class RolloutOptions:
    canary: list[str] = field(default_factory=list)  # slugs added to the canary ring
    wave_size: int = 50
    workers: int = 0  # 0: min(4, CPUs this process may use)
    max_failures: str = "0"  # per ring: a number of tenants, or a percentage like "5%"
    tenants: list[str] | None = None  # only these tenants (slugs)
    health_check: bool = True
    signals: str = "auto"  # pre/post_migrate: "auto" (when models may change) or "always"
    report_path: str | None = None
    new: bool = False  # start a new rollout even if an unfinished one of this code exists

    def resolved_workers(self) -> int:
        return self.workers or max(1, min(4, usable_cpus()))

    def allowed_failures(self, ring_size: int) -> int:
        text = str(self.max_failures).strip()
        if text.endswith("%"):
            return math.floor(ring_size * float(text[:-1]) / 100)
        return int(text)


class Reporter:
    """What a rollout tells its caller as it goes (the CLI draws a progress bar)."""

    def message(self, text: str) -> None:
        log.info(text)

    def ring_started(self, ring: int, name: str, total: int) -> None:
        pass

    def step_done(self, result: StepResult) -> None:
        pass

    def ring_finished(self, ring: int, name: str, done: int, failed: int) -> None:
        pass


@dataclass
class Outcome:
    rollout: Rollout | None
    plan: Plan | None
    status: str
    report: dict[str, Any]
    report_path: Path | None

    @property
    def ok(self) -> bool:
        return self.status == Rollout.Status.COMPLETED


# --- The lock ------------------------------------------------------------------------------------


class _RolloutLock:
    """A session advisory lock on a connection of its own, so the Django connection can be
    closed (before forking workers) without releasing it."""

    def __init__(self) -> None:
        self.conn: psycopg.Connection[Any] | None = None

    def acquire(self) -> None:
        db = settings.DATABASES["default"]
        params = {"dbname": db["NAME"], "user": db.get("USER") or None,
                  "password": db.get("PASSWORD") or None, "host": db.get("HOST") or None,
                  "port": db.get("PORT") or None, "autocommit": True,
                  "application_name": "dgbox rollout lock"}
        self.conn = psycopg.connect(**{k: v for k, v in params.items() if v is not None})
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY]).fetchone()
        locked = bool(row and row[0])
        if not locked:
            self.conn.close()
            self.conn = None
            try:
                holder = Rollout.objects.filter(status=Rollout.Status.RUNNING).first()
            except DatabaseError:  # the rollout tables do not exist yet
                holder = None
            who = f" (rollout {holder.pk}, started by {holder.started_by})" if holder else ""
            raise RolloutBusy(f"Another rollout is running{who}; wait for it to finish. "
                              "Check with `dgbox rollout show`.")

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
            finally:
                self.conn.close()
                self.conn = None


# --- The rollout ---------------------------------------------------------------------------------


def run_rollout(options: RolloutOptions, reporter: Reporter | None = None) -> Outcome:
    reporter = reporter or Reporter()
    lock = _RolloutLock()
    lock.acquire()
    started = time.perf_counter()
    try:
        return _run_locked(options, reporter, started)
    finally:
        lock.release()
        connection.set_schema_to_public()


def _run_locked(options: RolloutOptions, reporter: Reporter, started: float) -> Outcome:
    graph = migration_graph()
    public = public_plan()
    public_result = None
    if public.work:
        check_before_migrating()
        reporter.message("Migrating the public schema: "
                         + ", ".join(f"{a}.{n}" for a, n in public.work))
        public_result = _upgrade_public(public)
        if public_result.status == RolloutStep.Status.FAILED:
            return _public_failed(graph, public_result, options, started)
    if public.bookkeeping:
        record_bookkeeping({public.schema_name: public.bookkeeping})

    resumable = None
    if not options.new:
        resumable = (Rollout.objects.filter(fingerprint=graph.fingerprint)
                     .exclude(status__in=[Rollout.Status.COMPLETED, Rollout.Status.SUPERSEDED])
                     .first()) if _rollout_tables_exist() else None
    slugs = options.tenants
    if resumable is not None and slugs:
        # Unfinished tenants of the rollout being resumed are part of this run too.
        slugs = sorted(set(slugs) | set(
            resumable.steps.exclude(status=RolloutStep.Status.DONE)
            .filter(kind=RolloutStep.Kind.TENANT, tenant__isnull=False)
            .values_list("slug", flat=True)))
    try:
        plan = build_plan(slugs)
    except ValueError as exc:
        raise RolloutError(str(exc)) from exc

    _clear_stale_maintenance(reporter)
    if plan.nothing_to_do and resumable is None:
        reporter.message(f"Nothing to migrate: {len(plan.tenants)} tenants, the public schema "
                         f"and the template are at {plan.release}.")
        rollout = Rollout.objects.create(
            release=plan.release, fingerprint=plan.fingerprint, status=Rollout.Status.COMPLETED,
            options=options_dict(options), started_by=started_by(), finished_at=timezone.now(),
            seconds=round(time.perf_counter() - started, 3),
            summary={"nothing_to_do": True, "tenants": len(plan.tenants)})
        return _finish(rollout, plan, options, Rollout.Status.COMPLETED, "", started, [])

    if not public.work:
        check_before_migrating()
    Rollout.objects.filter(status__in=[Rollout.Status.RUNNING, Rollout.Status.HALTED,
                                       Rollout.Status.PARTIAL]).exclude(
        fingerprint=plan.fingerprint).update(status=Rollout.Status.SUPERSEDED)
    rollout = _prepare(resumable, plan, options, public_result)
    reporter.message(f"Rollout {rollout.pk} to {plan.release}"
                     + (f" (resumed, run {rollout.runs})" if resumable else ""))

    bookkeeping = {t.schema_name: t.bookkeeping for t in plan.tenants_with_bookkeeping_only}
    if bookkeeping:
        record_bookkeeping(bookkeeping)
        reporter.message(f"Recorded {sum(map(len, bookkeeping.values()))} migrations of "
                         f"shared apps in {len(bookkeeping)} tenant schemas (no-ops there).")

    status, reason = _run_rings(rollout, plan, options, reporter)
    return _finish(rollout, plan, options, status, reason, started,
                   [public_result] if public_result else [])


def _rollout_tables_exist() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"public.{RolloutStep._meta.db_table}"])
        return cursor.fetchone()[0] is not None


def _upgrade_public(public: SchemaPlan) -> StepResult:
    started = time.perf_counter()
    result = StepResult(step_id=0, schema_name=public.schema_name, slug="public",
                        ring=RING_PLATFORM, status=RolloutStep.Status.DONE, seconds=0.0)
    connection.set_schema_to_public()
    try:
        result.applied = get_engine().migrate_current_schema(emit_signals="always")
    except Exception as exc:  # noqa: BLE001
        result.status, result.error = RolloutStep.Status.FAILED, describe_error(exc)
    connection.set_schema_to_public()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _public_failed(graph: Graph, result: StepResult, options: RolloutOptions,
                   started: float) -> Outcome:
    reason = f"The public schema failed to migrate: {result.error}"
    report = {"rollout": None, "release": release_label(), "fingerprint": graph.fingerprint,
              "status": Rollout.Status.HALTED,
              "halt_reason": reason, "steps": [asdict(result)], "options": options_dict(options),
              "seconds": round(time.perf_counter() - started, 3)}
    path = write_report(report, options, "public-failure")
    return Outcome(rollout=None, plan=None, status=Rollout.Status.HALTED, report=report,
                   report_path=path)


def record_bookkeeping(by_schema: dict[str, list[Key]]) -> None:
    """Record migrations whose every operation is a no-op in that schema (apps without tables
    there), as Django would after running them."""
    quote = connection.ops.quote_name
    connection.set_schema_to_public()
    with transaction.atomic(), connection.cursor() as cursor:
        for schema_name, keys in by_schema.items():
            table = f"{quote(schema_name)}.django_migrations"
            cursor.execute(
                f"INSERT INTO {table} (app, name, applied) "  # noqa: S608 - names quoted with quote_name, values passed as parameters # nosec B608
                f"SELECT k.app, k.name, now() FROM unnest(%s::text[], %s::text[]) AS k(app, name) "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} m "
                f"WHERE m.app = k.app AND m.name = k.name)",
                [[a for a, _ in keys], [n for _, n in keys]])


def _clear_stale_maintenance(reporter: Reporter) -> None:
    # Only a rollout sets maintenance, and we hold the only rollout lock: any flag still set
    # was left by a rollout that was killed.
    stale = list(Tenant.objects.filter(maintenance=True).values_list("slug", flat=True))
    if stale:
        Tenant.objects.filter(maintenance=True).update(maintenance=False)
        reporter.message("Took out of maintenance (left by an interrupted rollout): "
                         + ", ".join(stale))


def _prepare(resumable: Rollout | None, plan: Plan, options: RolloutOptions,
             public_result: StepResult | None) -> Rollout:
    """Create the rollout and its steps, or bring an unfinished one up to date."""
    with transaction.atomic():
        if resumable is None:
            rollout = Rollout.objects.create(release=plan.release, fingerprint=plan.fingerprint,
                                             options=options_dict(options), started_by=started_by())
            existing = {}
        else:
            rollout = resumable
            Rollout.objects.filter(pk=rollout.pk).update(
                status=Rollout.Status.RUNNING, runs=F("runs") + 1, started_by=started_by(),
                halt_reason="", finished_at=None,
                # Running it again is resuming it: a halt left by a stopped process is over.
                halt_requested_at=None, halt_requested_by="")
            rollout.refresh_from_db()
            existing = {s.schema_name: s for s in rollout.steps.all()}
            # Steps left "running" by a killed process, and failed ones, are tried again.
            rollout.steps.exclude(status=RolloutStep.Status.DONE).update(
                status=RolloutStep.Status.PENDING)

        if public_result is not None:
            RolloutStep.objects.update_or_create(
                rollout=rollout, schema_name=public_result.schema_name,
                defaults={"kind": RolloutStep.Kind.PUBLIC, "slug": "public",
                          "ring": RING_PLATFORM, "status": public_result.status,
                          "applied": public_result.applied, "error": public_result.error,
                          "seconds": public_result.seconds, "finished_at": timezone.now(),
                          "attempts": 1})
        if plan.template_needs_refresh:
            step = existing.get(TEMPLATE_SCHEMA)
            pending = [f"{a}.{n}" for a, n in (plan.template.work if plan.template else [])]
            if step is None:
                RolloutStep.objects.create(rollout=rollout, kind=RolloutStep.Kind.TEMPLATE,
                                           schema_name=TEMPLATE_SCHEMA, slug="template",
                                           ring=RING_PLATFORM, pending=pending)
            else:
                RolloutStep.objects.filter(pk=step.pk).update(status=RolloutStep.Status.PENDING)

        # Steps of tenants with nothing left to do (e.g. migrated some other way) are done.
        with_work = {t.schema_name: t for t in plan.tenants_with_work}
        planned = {t.schema_name for t in plan.tenants}
        done_now = [s.pk for name, s in existing.items()
                    if s.kind == RolloutStep.Kind.TENANT and name in planned
                    and name not in with_work and s.status != RolloutStep.Status.DONE]
        if done_now:
            RolloutStep.objects.filter(pk__in=done_now).update(
                status=RolloutStep.Status.DONE, error="", finished_at=timezone.now(),
                health={"note": "found up to date"})

        new = [t for name, t in with_work.items() if name not in existing]
        if new:
            canary = set(options.canary) | set(rollout.options.get("canary", []))
            canaries = [t for t in new if ring_of(t.row, canary) == "canary"]
            rest = [t for t in new if ring_of(t.row, canary) != "canary"]
            last = max((s.ring for s in existing.values()), default=RING_CANARY)
            first_wave = last + 1 if existing else RING_CANARY + 1
            size = max(1, int(rollout.options.get("wave_size") or options.wave_size))
            rows = [_step(rollout, t, RING_CANARY) for t in canaries]
            for index, t in enumerate(rest):
                rows.append(_step(rollout, t, first_wave + index // size))
            RolloutStep.objects.bulk_create(rows)
    return rollout


def _step(rollout: Rollout, t: SchemaPlan, ring: int) -> RolloutStep:
    return RolloutStep(rollout=rollout, kind=RolloutStep.Kind.TENANT, tenant_id=t.row["id"],
                       schema_name=t.schema_name, slug=t.slug, ring=ring,
                       pending=[f"{a}.{n}" for a, n in t.work])


def _run_rings(rollout: Rollout, plan: Plan, options: RolloutOptions,
               reporter: Reporter) -> tuple[str, str]:
    workers = options.resolved_workers()
    steps = list(rollout.steps.exclude(kind=RolloutStep.Kind.PUBLIC).order_by("ring", "pk"))
    rings = sorted({s.ring for s in steps})
    release = plan.release
    pool = None
    any_failed = False
    try:
        for ring in rings:
            in_ring = [s for s in steps if s.ring == ring]
            todo = [s for s in in_ring if s.status != RolloutStep.Status.DONE]
            name = ring_name(ring)
            if not todo:
                continue
            allowed = options.allowed_failures(len(in_ring))
            if ring == RING_PLATFORM:
                allowed = 0  # the template: a failure here stops everything
            jobs = [_job(s, options, release) for s in todo]
            for job in jobs:
                # The template runs in this process (its ring is one job): its snapshot is
                # taken while the tenants migrate, and finished after them.
                job["snapshot_later"] = job["kind"] == RolloutStep.Kind.TEMPLATE
            reporter.ring_started(ring, name, len(jobs))
            done: int = 0
            failed: list[dict[str, Any]] = []
            if pool is None and workers > 1 and len(jobs) > 1:
                # The ring's first step runs in this process, then the workers are forked:
                # each inherits what its health check loaded (the tenant URL configuration
                # and its views, the compiled templates, the cache clients, the rendered
                # migration state), about 0.5 s of CPU a worker would otherwise spend again.
                done, failed = _run_jobs(jobs[:1], None, workers, allowed, reporter,
                                         rollout.pk)
                jobs = jobs[1:]
                if len(failed) <= allowed:
                    pool = _start_pool(workers)
            more, more_failed = _run_jobs(jobs, pool, workers, allowed - len(failed),
                                          reporter, rollout.pk)
            done, failed = done + more, failed + more_failed
            if ring == RING_PLATFORM and failed:
                abandon_template_snapshot()
            reporter.ring_finished(ring, name, done, len(failed))
            if failed:
                any_failed = True
            if len(failed) > allowed:
                names = ", ".join(f"{r['slug']} ({r['error']})" for r in failed)
                reason = (f"Ring {name} halted: {len(failed)} failed (at most {allowed} "
                          f"allowed): {names}")
                if len(failed) < len(todo) and done + len(failed) < len(todo):
                    reason += f"; {len(todo) - done - len(failed)} not started"
                return Rollout.Status.HALTED, reason
    except KeyboardInterrupt:
        abandon_template_snapshot()
        return Rollout.Status.HALTED, "Interrupted; run `dgbox rollout run` again to resume."
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        snapshot_error = finish_template_snapshot(reporter, rollout.pk)
    if snapshot_error:
        return Rollout.Status.PARTIAL, snapshot_error
    if any_failed:
        return Rollout.Status.PARTIAL, "Some tenants failed (within the rings' thresholds)."
    return Rollout.Status.COMPLETED, ""


def finish_template_snapshot(reporter: Reporter, rollout_pk: int) -> str:
    """Store the template snapshot whose pg_dump ran while the tenants migrated (and restock
    the spares). Returns "" or, if it failed, why: the template step is then marked failed and
    the next `dgbox rollout run` takes the snapshot again (the template stays migrated)."""
    error = ""
    while pending_snapshots:
        pending = pending_snapshots.pop()
        connection.set_schema_to_public()
        try:
            pending.finish()
        except Exception as exc:  # noqa: BLE001 - recorded on the template's step
            error = f"template snapshot: {describe_error(exc)}"
            log.warning("Rollout: %s", error)
            connection.set_schema_to_public()
            RolloutStep.objects.filter(
                rollout_id=rollout_pk, kind=RolloutStep.Kind.TEMPLATE,
            ).update(status=RolloutStep.Status.FAILED, error=error, finished_at=timezone.now())
            reporter.message(f"The template's snapshot failed: {error}")
        finally:
            connection.set_schema_to_public()
    return ("" if not error else
            f"{error}; the tenants are migrated, run `dgbox rollout run` again to snapshot it")


def abandon_template_snapshot() -> None:
    while pending_snapshots:
        pending_snapshots.pop().abandon()


def _job(step: RolloutStep, options: RolloutOptions, release: str) -> dict[str, Any]:
    return {"step_id": step.pk, "kind": step.kind, "schema_name": step.schema_name,
            "slug": step.slug, "tenant_id": step.tenant_id, "ring": step.ring,
            "health": options.health_check, "signals": options.signals, "release": release}


def _start_pool(workers: int) -> ProcessPoolExecutor:
    # A step has just run in this process (_run_rings): the workers inherit what it loaded.
    connections.close_all()
    _close_broker_connections()
    pool = ProcessPoolExecutor(max_workers=workers, initializer=child_init,
                               mp_context=multiprocessing.get_context("fork"))
    # With "fork", every worker starts at the first submit: do it now, before any thread
    # (e.g. a progress bar's) runs in this process.
    pool.submit(os.getpid).result()
    return pool


def _close_broker_connections() -> None:
    """Close this process's pooled Celery broker connections before forking. A forked child
    closes the pools it inherits (kombu's after-fork clean-up); a Redis channel this process
    left waiting on BRPOP is closed by reading the reply, which this process has already taken:
    the child then waits on the socket for ever (seen as a hung rollout in the test suite).
    This process then builds new pools when it next sends a task, as Celery does after a fork."""
    if "celery" not in sys.modules:
        return  # nothing has sent a task: no pool to inherit
    from celery import current_app  # noqa: PLC0415 - only when Celery is loaded already
    from kombu import pools  # noqa: PLC0415

    pools.reset()  # closes every kombu pool of this process and forgets them
    # What Celery's own after-fork hook (Celery._after_fork) clears, so both are built anew.
    current_app.__dict__["_pool"] = None
    amqp = current_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def _run_jobs(jobs: list[dict[str, Any]], pool: ProcessPoolExecutor | None, workers: int,
              allowed: int, reporter: Reporter,
              rollout_pk: int | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Run `jobs`, stopping early over `allowed` failures. While the rollout is halted
    (tenants/rollout/control.py) no new job starts: running ones finish, then it waits."""
    done = 0
    failed: list[dict[str, Any]] = []
    queue = list(jobs)

    def halted() -> bool:
        return rollout_pk is not None and halt_requested(rollout_pk)

    def wait_if_halted() -> None:
        if rollout_pk is not None:
            wait_while_halted(rollout_pk, message=reporter.message)

    if pool is None:
        for job in queue:
            if len(failed) > allowed:
                break
            wait_if_halted()
            result = run_step(job)
            done, failed = _tally(result, done, failed, reporter)
        return done, failed
    running: dict[Future[dict[str, Any]], dict[str, Any]] = {}
    while queue or running:
        while queue and len(running) < workers and len(failed) <= allowed and not halted():
            job = queue.pop(0)
            running[pool.submit(run_step, job)] = job
        if not running:
            if queue and len(failed) <= allowed and halted():
                wait_if_halted()
                continue
            break
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            job = running.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker itself died
                result = _worker_died(job, exc)
            done, failed = _tally(result, done, failed, reporter)
    return done, failed


def _tally(result: dict[str, Any], done: int, failed: list[dict[str, Any]],
           reporter: Reporter) -> tuple[int, list[dict[str, Any]]]:
    reporter.step_done(StepResult(**result))
    if result["status"] == RolloutStep.Status.FAILED:
        failed = [*failed, result]
    else:
        done += 1
    return done, failed


def _worker_died(job: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    error = f"worker process failed: {describe_error(exc)}"
    connection.set_schema_to_public()
    RolloutStep.objects.filter(pk=job["step_id"]).update(
        status=RolloutStep.Status.FAILED, error=error, finished_at=timezone.now())
    if job.get("tenant_id"):
        Tenant.objects.filter(pk=job["tenant_id"]).update(maintenance=False)
    return asdict(StepResult(step_id=job["step_id"], schema_name=job["schema_name"],
                             slug=job["slug"], ring=job["ring"],
                             status=RolloutStep.Status.FAILED, seconds=0.0, error=error))


def _finish(rollout: Rollout, plan: Plan, options: RolloutOptions, status: str, reason: str,
            started: float, extra_steps: list[StepResult]) -> Outcome:
    connection.set_schema_to_public()
    rollout.refresh_from_db()
    steps = list(rollout.steps.order_by("ring", "pk"))
    counts = {s: sum(1 for step in steps if step.status == s) for s in RolloutStep.Status.values}
    rings = []
    for ring in sorted({s.ring for s in steps}):
        in_ring = [s for s in steps if s.ring == ring]
        rings.append({"ring": ring, "name": ring_name(ring), "steps": len(in_ring),
                      **{s: sum(1 for x in in_ring if x.status == s)
                         for s in RolloutStep.Status.values}})
    failed = [{"slug": s.slug, "schema": s.schema_name, "ring": ring_name(s.ring),
               "error": s.error} for s in steps if s.status == RolloutStep.Status.FAILED]
    summary = rollout.summary if rollout.summary.get("nothing_to_do") else {}
    summary.update({
        "counts": counts, "rings": rings, "failed": failed,
        "tenants_in_plan": len(plan.tenants),
        "tenants_up_to_date": sum(1 for t in plan.tenants if t.up_to_date),
        "tenants_bookkeeping_only": len(plan.tenants_with_bookkeeping_only),
        "missing_schemas": plan.missing_schemas,
    })
    elapsed = round(time.perf_counter() - started, 3)
    Rollout.objects.filter(pk=rollout.pk).update(
        status=status, halt_reason=reason, summary=summary, finished_at=timezone.now(),
        halt_requested_at=None, halt_requested_by="",
        seconds=(rollout.seconds or 0) + elapsed if rollout.runs > 1 else elapsed)
    rollout.refresh_from_db()
    report = rollout_report(rollout)
    report["this_run_seconds"] = elapsed
    path = write_report(report, options, f"rollout-{rollout.pk}")
    return Outcome(rollout=rollout, plan=plan, status=status, report=report, report_path=path)
