"""Figures at fleet scale: one database with thousands of tenants, launched the product's way.

    python -m infra.localservices run -- nice python bench/fleet_scale.py \
        [--tenants 2000] [--database NAME] [--keep] [--rounds 20] [--only PHASE ...]

Builds its own database (default `dgbox_fleet_<pid>`, dropped at the end unless --keep; give
--database to reuse a kept one, topped up to --tenants) by launching every tenant with
`launch_tenant()`, the path `dgbox tenant create` takes (spare pool, template snapshot), with a
progress bar: one region, then 24 of its municipalities, and so on. Then it measures (in the
order catalog, serve, launch, backup, rollout: the slowest last):

  build      each launch while the fleet grew (spare pool, topped up after each launch)
  launch     p50/p95 with a spare ready and without (snapshot replay), sides interleaved
             round by round, the launched tenants dropped afterwards (untimed)
  rollout    `dgbox rollout run` as whole processes: no-op, then one trivial tenant migration
             (tests/rollout_fixture's `migrations_bench`: a nullable column), checked in every
             schema, then put back
  backup     `dgbox tenant backup` and `dgbox tenant restore` of one tenant, whole processes
  catalog    database size, and catalog rows (pg_class, pg_attribute...) in all and per tenant
  serve      two web workers (gunicorn, 1 worker x 1 thread each) with and without connection
             recycling (DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION), requests interleaved between them
             over every tenant's home page: the worker's RSS/USS and its PostgreSQL backend's
             memory at checkpoints; then the national portal, and the operator console home
  (bench/fleet_probe.py does the serving part.)

Every whole process is timed in wall and CPU time (the children's user+sys), and the load
average is printed at each phase: the machine may be shared. Figures are printed and written to
bench/results/fleet_scale.json. A measurement, never a test; it extrapolates nothing.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SETTINGS = "bench.fleet_settings"
V1 = "tests.rollout_fixture.migrations"
BENCH = "tests.rollout_fixture.migrations_bench"
NEW = ("rollout_fixture", "0002_marker_checked_at")
PHASES = ["build", "catalog", "serve", "launch", "backup", "rollout"]  # the slowest last
MUNICIPALITIES_PER_REGION = 24
WEB_REDIS_URL = ""  # the Redis the web workers use (this process uses none: see configure())


def configure(database: str) -> None:
    """Environment of this process and of every process it starts, then django.setup()."""
    from bench.common import database_url

    os.environ["DATABASE_URL"] = database_url(database, fresh=False)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["DGBOX_LOG_LEVEL"] = "ERROR"
    os.environ["PYTHONPATH"] = str(ROOT)
    # No broker for this process: the pool top-up after a launch runs in-process, and no task
    # is left in a shared Redis for some other worker to pick up. The web workers keep Redis.
    global WEB_REDIS_URL
    WEB_REDIS_URL = os.environ.get("REDIS_URL", "")
    os.environ["REDIS_URL"] = ""
    import django

    django.setup()


def load() -> float:
    return round(os.getloadavg()[0], 2)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": round(statistics.median(values), 4),
            "p95": round(p95(values), 4), "max": round(max(values), 4)}


def run_process(args: list[str], extra_env: dict[str, str] | None = None) -> dict[str, float]:
    """Run a whole process; its wall time and CPU time (user + system of the children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(args, env={**os.environ, **(extra_env or {})}, cwd=ROOT,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}):\n"
                         f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "load": load()}


def dgbox(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("dgbox")), *args]


class FleetBench:
    def __init__(self, args: argparse.Namespace):
        from rich.console import Console

        self.args = args
        self.console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        self.results: dict[str, object] = {"tenants_requested": args.tenants,
                                           "cpus": os.cpu_count(), "load_at_start": load(),
                                           "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                 time.gmtime())}

    def say(self, text: str) -> None:
        self.console.print(f"{text}  [dim](load {load()})[/dim]")

    # --- Build ------------------------------------------------------------------------------

    def prepare(self) -> None:
        from django.core.management import call_command
        from django.db import connection
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

        from infra.s3 import ensure_bucket
        from tenants.bootstrap import ensure_public_tenant
        from tenants.launch import spares, template

        ensure_bucket()  # backups and restores write and read tenants' files there
        if "tenants_tenant" in connection.introspection.table_names():
            return  # a kept fleet: built (and migrated) by this script already
        with self.console.status("Migrating the database, refreshing the template..."):
            call_command(MigrateSchemasCommand(), interactive=False, verbosity=0)
            ensure_public_tenant()
            template.refresh_template()
            spares.fill_pool()

    def launched(self) -> list[str]:
        from tenants.models import Tenant

        return list(Tenant.objects.launched().filter(slug__startswith="f")
                    .order_by("pk").values_list("slug", flat=True))

    def build(self) -> None:
        from django.db import close_old_connections
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from tenants.launch import LaunchRequest, launch_tenant, spares

        have = len(self.launched())
        seconds: list[tuple[int, float]] = []
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=self.console) as progress:
            task = progress.add_task("Launching the fleet", total=self.args.tenants,
                                     completed=have)
            for i in range(have, self.args.tenants):
                region = i - i % (MUNICIPALITIES_PER_REGION + 1)
                if i == region:
                    request = LaunchRequest(name=f"Область {i:05d}", kind="region",
                                            slug=f"f{i:05d}", admin_email="admin@fleet.example")
                else:
                    request = LaunchRequest(name=f"Посёлок {i:05d}", kind="municipality",
                                            parent=f"f{region:05d}", slug=f"f{i:05d}",
                                            admin_email="admin@fleet.example")
                seconds.append((i, launch_tenant(request).seconds))
                spares.fill_pool()
                # A request or task boundary, as in production (the console's launch is a
                # request, the top-up a task): the connection is recycled after
                # DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION schemas instead of one connection
                # keeping the catalog caches of every schema the build visited.
                close_old_connections()
                progress.advance(task)
        if seconds:
            # Launch time as the fleet grew, by tenths of the launches made in this run.
            step = max(1, len(seconds) // 10)
            self.results["build"] = [
                {"present_from": chunk[0][0], "present_to": chunk[-1][0],
                 **summary([s for _, s in chunk])}
                for chunk in (seconds[k:k + step] for k in range(0, len(seconds), step))]
        self.say(f"{len(self.launched())} tenants present")

    # --- Launch -----------------------------------------------------------------------------

    def launch(self) -> None:
        from django.test import override_settings

        from tenants.launch import LaunchRequest, launch_tenant, spares
        from tenants.models import SpareSchema

        times: dict[str, list[float]] = {"spare pool": [], "no spare (snapshot)": []}
        slugs = []
        for r in range(self.args.rounds):
            sides = list(times) if r % 2 == 0 else list(reversed(times))
            for side in sides:
                slug = f"bench-launch-{r:03d}-{'p' if side == 'spare pool' else 's'}"
                slugs.append(slug)
                request = LaunchRequest(name=slug, kind="region", slug=slug,
                                        admin_email="admin@fleet.example")
                if side == "spare pool":
                    spares.fill_pool()
                    times[side].append(launch_tenant(request).seconds)
                else:
                    self.drop_spares(SpareSchema)
                    with override_settings(DGBOX_SPARE_SCHEMAS=0):  # no top-up after it
                        times[side].append(launch_tenant(request).seconds)
        self.drop_tenants(slugs)
        spares.fill_pool()
        self.results["launch"] = {side: summary(values) for side, values in times.items()}
        for side, values in times.items():
            self.say(f"  launch, {side:20} p50 {statistics.median(values):.3f} s, "
                     f"p95 {p95(values):.3f} s")

    @staticmethod
    def drop_spares(spare_model) -> None:
        from django.db import connection

        connection.set_schema_to_public()
        for name in spare_model.objects.values_list("schema_name", flat=True):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        spare_model.objects.all().delete()

    @staticmethod
    def drop_tenants(slugs: list[str]) -> None:
        from django.db import connection

        from tenants.models import Tenant

        connection.set_schema_to_public()
        for tenant in Tenant.objects.filter(slug__in=slugs):
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{tenant.schema_name}" CASCADE')
            tenant.domains.all().delete()
            tenant.delete()

    # --- Rollout ----------------------------------------------------------------------------

    def rollout(self) -> None:
        report = Path(tempfile.gettempdir()) / f"dgbox-fleet-rollout-{os.getpid()}.json"
        run = dgbox("rollout", "run", "--report", str(report))
        self.say("Rollout, no-op (whole process), twice")
        noop = [run_process(run) for _ in range(2)]
        self.say(f"  no-op: {noop}")
        self.reset_to_pending()
        self.say("Rollout, one trivial migration (whole process)")
        one = run_process(run, {"DGBOX_TEST_ROLLOUT_MIGRATIONS": BENCH})
        migrated = self.count_migrated()
        self.say(f"  one migration: {one}, {migrated} schemas got the column")
        self.reset_to_pending()
        with self.console.status("Putting the template back..."):
            from tenants.launch import spares, template

            template.refresh_template()
            spares.drop_stale()
            spares.fill_pool()
        self.results["rollout"] = {"no-op": noop, "one migration": one,
                                   "schemas migrated": migrated}

    def schemas(self) -> list[str]:
        from tenants.models import Tenant

        return list(Tenant.objects.launched().values_list("schema_name", flat=True))

    def reset_to_pending(self) -> None:
        """Every schema back to "0002 not applied", as its reverse migration would leave it."""
        from django.db import connection

        from tenants.launch import template

        connection.set_schema_to_public()
        schemas = [*self.schemas(), template.TEMPLATE_SCHEMA]
        with connection.cursor() as cursor:
            for schema in schemas:
                cursor.execute(f'ALTER TABLE "{schema}".rollout_fixture_marker '
                               "DROP COLUMN IF EXISTS checked_at")
            for schema in [*schemas, "public"]:
                cursor.execute(f'DELETE FROM "{schema}".django_migrations '
                               "WHERE app = %s AND name = %s", NEW)

    def count_migrated(self) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = ANY(%s) "
                "AND table_name = 'rollout_fixture_marker' AND column_name = 'checked_at'",
                [self.schemas()])
            return int(cursor.fetchone()[0])

    # --- Backup and restore -----------------------------------------------------------------

    def backup(self) -> None:
        slug = self.launched()[len(self.launched()) // 2]
        folder = Path(tempfile.mkdtemp(prefix="dgbox-fleet-backup-"))
        try:
            self.say(f"Backup and restore of {slug} (whole processes)")
            backup = run_process(dgbox("tenant", "backup", slug, "--output", str(folder)))
            archive = next(folder.glob("*.tar.gz"))
            restore = run_process(dgbox("tenant", "restore", str(archive), "--slug",
                                        "bench-restored"))
            self.drop_tenants(["bench-restored"])
            self.results["backup"] = {"backup": backup, "restore": restore,
                                      "archive_bytes": archive.stat().st_size}
            self.say(f"  backup {backup}, restore {restore}, "
                     f"{archive.stat().st_size / 1e6:.1f} MB")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # --- Catalog ----------------------------------------------------------------------------

    def catalog(self) -> None:
        from django.db import connection

        from tenants.models import SpareSchema

        schemas = self.schemas()
        one = schemas[len(schemas) // 2]
        catalogs = ("pg_class", "pg_attribute", "pg_index", "pg_constraint", "pg_depend",
                    "pg_type")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = int(cursor.fetchone()[0])
            totals = {}
            for name in catalogs:
                cursor.execute(f"SELECT count(*) FROM {name}")
                totals[name] = int(cursor.fetchone()[0])
            cursor.execute(
                "SELECT count(*), coalesce(sum(c.relnatts), 0), "
                "coalesce(sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relkind = 'r'), 0)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s", [one])
            relations, columns, bytes_ = cursor.fetchone()
        # Schemas holding a copy of the tenant tables: tenants, the template, the spares.
        copies = len(schemas) + 1 + SpareSchema.objects.count()
        self.results["catalog"] = {
            "database_bytes": size, "tenant_schemas": len(schemas), "schema_copies": copies,
            "bytes_per_schema_copy": size // copies, "totals": totals,
            "one_tenant": {"schema": one, "relations": relations, "columns": int(columns),
                           "table_bytes": int(bytes_)}}
        self.say(f"Database {size / 1e9:.2f} GB for {copies} schema copies "
                 f"({size / copies / 1e6:.2f} MB each); one tenant: {relations} relations, "
                 f"{columns} columns; catalogs: {totals}")

    # --- Serving ----------------------------------------------------------------------------

    def serve(self) -> None:
        from bench import fleet_probe

        slugs = self.launched()[:self.args.serve_limit or None]
        self.results["serve"] = fleet_probe.measure(slugs, self.args.recycle_after, WEB_REDIS_URL,
                                                    self.say)

    # --- Run --------------------------------------------------------------------------------

    def run(self) -> None:
        phases = self.args.only or PHASES
        self.prepare()
        self.build()
        self.results["tenants"] = len(self.launched())
        out = Path(self.args.output)
        out.parent.mkdir(exist_ok=True)
        for phase in PHASES[1:]:
            if phase in phases:
                getattr(self, phase)()
                self.results["load_at_end"] = load()
                # Written after each phase: a long run interrupted keeps what it measured.
                out.write_text(json.dumps(self.results, indent=2, ensure_ascii=False))
        self.say(f"Written to {out}")


def drop_database(name: str) -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    from django.db import connections

    connections.close_all()
    with psycopg.connect(dbname="postgres", host=db["HOST"] or None, port=db["PORT"] or None,
                         user=db["USER"] or None, password=db["PASSWORD"] or None,
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=2000, help="fleet size (default 2000)")
    parser.add_argument("--database", help="database name (default dgbox_fleet_<pid>); an "
                                           "existing one is reused and topped up")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--rounds", type=int, default=20, help="launches per side")
    parser.add_argument("--recycle-after", type=int, default=100,
                        help="DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION of the recycling web worker")
    parser.add_argument("--serve-limit", type=int, default=0,
                        help="serve only the first N tenants (default: all)")
    parser.add_argument("--only", nargs="+", choices=PHASES,
                        help="only these phases (the fleet is always built first; `build` "
                             "alone: nothing else)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "fleet_scale.json"),
                        help="where the figures are written (JSON)")
    args = parser.parse_args()
    name = args.database or f"dgbox_fleet_{os.getpid()}"
    configure(name)
    try:
        FleetBench(args).run()
    finally:
        if not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()
