"""Fleet upgrade time: stock django-tenants `migrate_schemas` versus `dgbox rollout run`,
each timed as the whole process a user waits for.

    python bench/rollout.py [--tenants 50] [--workers 0] [--rounds 3] [--with-standard]
                            [--before DIR] [--scenario no-op|"one migration"|both]

Builds its own database (DATABASE_URL, default .../dgbox_bench_rollout) with N tenants
launched the dgbox way (kept between runs), then measures two scenarios:

  no-op          every schema is up to date
  one migration  one new tenant migration (the test-only app tests/rollout_fixture switched to
                 its `migrations_bench` module: 0002 adds a nullable column)

for each side, every one a fresh process started the way a user starts it (nothing imported
or cached by this script is reused; bench/rollout_settings.py is the settings module):

  stock multiprocessing    `python -m django migrate_schemas --executor=multiprocessing`,
                           django-tenants' own command (TENANT_MULTIPROCESSING_MAX_PROCESSES =
                           --workers)
  stock standard           the same with --executor=standard (only with --with-standard: slow)
  dgbox rollout            `dgbox rollout run` with its defaults: public schema, template
                           refresh (new snapshot, spare pool rebuilt), canary ring and waves,
                           maintenance per tenant and a health check after each tenant
  dgbox, --no-health-check the same without the health checks, to show their share
  dgbox before             `dgbox rollout run` of another source tree (--before DIR, e.g. the
                           previous commit: `git archive <commit> | tar -x -C DIR`), so that
                           before and after are measured in the same run

Sides are interleaved round by round (each round runs every side once, the order rotated from
round to round), so a change in the machine's load hits every side alike. Before each
measurement every schema (tenants, template, public) is put back to the scenario's starting
state and the spare pool refilled, untimed; after a one-migration run every tenant schema is
checked to have the new column. Each line prints wall time, the CPU time of the process and
everything it waited for (workers, pg_dump; not the PostgreSQL server's) and the load average
when it started. Medians and per-round ratios go to bench/results/rollout.json. A measurement,
never a test; on a shared machine the ratios are the point.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dgbox_bench_rollout")
os.environ.setdefault("DGBOX_LOG_LEVEL", "ERROR")
os.environ["DJANGO_SETTINGS_MODULE"] = "rollout_settings"
os.environ.pop("DGBOX_BENCH_MIGRATIONS", None)  # this process stays at the first release
V1 = "tests.rollout_fixture.migrations"
BENCH = "tests.rollout_fixture.migrations_bench"
NEW = ("rollout_fixture", "0002_marker_checked_at")
SCENARIOS = {"no-op": V1, "one migration": BENCH}
STOCK_MP = "stock multiprocessing"
DGBOX = "dgbox rollout"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=50, help="fleet size (default 50)")
    parser.add_argument("--workers", type=int, default=0,
                        help="parallelism of both dgbox and the stock multiprocessing executor "
                             "(default: CPUs, at most 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every side (default 3)")
    parser.add_argument("--with-standard", action="store_true",
                        help="add the (slowest) stock standard executor")
    parser.add_argument("--before", type=Path,
                        help="another dgbox source tree to measure as the side 'dgbox before'")
    parser.add_argument("--scenario", choices=[*SCENARIOS, "both"], default="both",
                        help="measure only this scenario (default both)")
    parser.add_argument("--skip-side", action="append", default=[], metavar="SIDE",
                        help="leave this side out, e.g. 'dgbox, --no-health-check' on a large "
                             "fleet where every side costs many minutes (repeatable)")
    args = parser.parse_args()
    if args.scenario != "both":
        for name in list(SCENARIOS):
            if name != args.scenario:
                del SCENARIOS[name]
    workers = args.workers or max(1, min(4, os.cpu_count() or 1))
    ensure_database()
    import django

    django.setup()
    bench = Bench(args.tenants, workers, args.rounds, args.with_standard, args.before)
    for side in args.skip_side:
        if side not in bench.sides:
            raise SystemExit(f"--skip-side: no side {side!r}; sides: {', '.join(bench.sides)}")
        del bench.sides[side]
    bench.run()


def ensure_database() -> None:
    import psycopg

    from infra.localservices import ensure_database as create

    try:
        create(os.environ["DATABASE_URL"])
    except psycopg.Error as exc:
        raise SystemExit(f"DATABASE_URL does not work: {exc}") from exc


def run_timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run `cmd` to its end; wall time, CPU time (it and the children it waited for) and the
    1-minute load average when it started."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": round(wall, 3), "cpu": round(cpu, 3), "load": round(load, 2)}


class Bench:
    def __init__(self, tenants: int, workers: int, rounds: int, with_standard: bool,
                 before: Path | None):
        from rich.console import Console

        self.n, self.workers, self.rounds = tenants, workers, rounds
        self.console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
        python = sys.executable
        dgbox = str(Path(sys.executable).with_name("dgbox"))
        report = str(Path(tempfile.gettempdir()) / f"dgbox-bench-rollout-{os.getpid()}.json")
        run = [dgbox, "rollout", "run", "--workers", str(workers), "--report", report]
        stock = [python, "-m", "django", "migrate_schemas", "--noinput", "-v", "0"]
        self.sides: dict[str, tuple[list[str], Path]] = {
            STOCK_MP: ([*stock, "--executor=multiprocessing"], ROOT),
            DGBOX: (run, ROOT),
            "dgbox, --no-health-check": ([*run, "--no-health-check"], ROOT),
        }
        if with_standard:
            self.sides["stock standard"] = ([*stock, "--executor=standard"], ROOT)
        if before is not None:
            self.sides["dgbox before"] = (run, before.resolve())

    def env(self, tree: Path, migrations: str) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{BENCH_DIR}",
                "DGBOX_BENCH_MIGRATIONS": migrations, "DGBOX_BENCH_WORKERS": str(self.workers)}

    def run(self):
        from django.core.management import call_command
        from django.db import DatabaseError, connection
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

        from tenants.bootstrap import ensure_public_tenant
        from tenants.launch import template
        from tenants.models import Tenant

        with self.console.status("Migrating the benchmark database, refreshing the template..."):
            # What `dgbox migrate` does, without its S3 bucket check (not needed here).
            # The public schema only when the fleet exists already (its tenants were
            # launched migrated): a no-op migrate of each schema costs half a second or more
            # a tenant on a large fleet (Django lists the schema's tables from the catalogs).
            try:
                fleet_exists = Tenant.objects.launched().exists()
            except DatabaseError:  # a new database: no tenant table yet
                fleet_exists = False
            only_public = {"schema_name": "public"} if fleet_exists else {}
            call_command(MigrateSchemasCommand(), interactive=False, verbosity=0, **only_public)
            ensure_public_tenant()
            template.refresh_template()
        self.ensure_fleet()
        self.schemas = self.tenant_schemas()
        self.fingerprint = template.migrations_fingerprint()
        graph_size = len(template.expected_migration_keys())
        self.console.print(f"{len(self.schemas)} tenants, {graph_size} tenant migrations, "
                           f"PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} CPUs, "
                           f"{self.workers} workers, {self.rounds} rounds, load average "
                           f"{os.getloadavg()[0]:.2f} (shared machine)")
        results: dict = {"tenants": len(self.schemas), "workers": self.workers,
                         "tenant_migrations": graph_size, "cpus": os.cpu_count(),
                         "rounds": self.rounds, "date": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                    time.gmtime()),
                         "load_average_at_start": round(os.getloadavg()[0], 2),
                         "runs": {s: {n: [] for n in self.sides} for s in SCENARIOS}}
        names = list(self.sides)
        for round_no in range(self.rounds):
            order = names[round_no % len(names):] + names[:round_no % len(names)]
            for scenario, migrations in SCENARIOS.items():
                for name in order:
                    self.reset()
                    cmd, tree = self.sides[name]
                    measured = run_timed(cmd, self.env(tree, migrations))
                    if scenario == "one migration":
                        self.check_all_migrated(name)
                    results["runs"][scenario][name].append(measured)
                    self.console.print(f"  round {round_no + 1}  {scenario:14} {name:26} "
                                       f"{measured['wall']:7.2f} s wall  {measured['cpu']:7.2f} s "
                                       f"CPU  load {measured['load']:.2f}")
        self.reset()
        results["load_average_at_end"] = round(os.getloadavg()[0], 2)
        self.report(results)

    # --- State ----------------------------------------------------------------------------------

    def tenant_schemas(self) -> list[str]:
        from tenants.models import Tenant

        return list(Tenant.objects.launched().values_list("schema_name", flat=True))

    def reset(self):
        """Every schema back to "0002 not applied" (what its reverse migration would leave),
        the snapshots of other releases forgotten and the spare pool of this release full:
        each measurement starts from the same state."""
        from django.db import connection

        from tenants.launch import spares, template
        from tenants.models import TemplateSnapshot

        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            for schema in [*self.schemas, template.TEMPLATE_SCHEMA]:
                cursor.execute(f"ALTER TABLE {schema}.rollout_fixture_marker "
                               "DROP COLUMN IF EXISTS checked_at")
            for schema in [*self.schemas, template.TEMPLATE_SCHEMA, "public"]:
                cursor.execute(f"DELETE FROM {schema}.django_migrations "
                               "WHERE app = %s AND name = %s", NEW)
        TemplateSnapshot.objects.exclude(fingerprint=self.fingerprint).delete()
        template._snapshot_cache.clear()
        spares.drop_stale()
        spares.fill_pool()

    def check_all_migrated(self, side):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = ANY(%s) "
                "AND table_name = 'rollout_fixture_marker' AND column_name = 'checked_at'",
                [self.schemas])
            migrated = cursor.fetchone()[0]
        if migrated != len(self.schemas):
            raise SystemExit(f"{side}: only {migrated} of {len(self.schemas)} tenant schemas "
                             "got the new column")

    def ensure_fleet(self):
        from django.db import close_old_connections
        from rich.progress import Progress

        from tenants.launch import LaunchRequest, launch_tenant, spares
        from tenants.models import Tenant

        have = Tenant.objects.launched().count()
        if have >= self.n:
            return
        with Progress(console=self.console) as progress:
            task = progress.add_task(f"Launching the fleet to {self.n} tenants",
                                     total=self.n - have)
            i = have
            while Tenant.objects.launched().count() < self.n:
                slug = f"rb-{i:05d}"
                i += 1
                if Tenant.objects.filter(slug=slug).exists():
                    continue
                launch_tenant(LaunchRequest(name=f"Bench {slug}", kind="region", slug=slug,
                                            admin_email="admin@bench.example"))
                spares.fill_pool()
                # Recycle the connection after DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION schemas, as
                # a request or a rollout step does: without it each launch gets slower as the
                # connection's catalog caches grow (bench/fleet_scale.py measured 0.4 s -> 4.5 s).
                close_old_connections()
                progress.advance(task)

    # --- Output ---------------------------------------------------------------------------------

    def report(self, results):
        from rich.table import Table

        names = list(self.sides)
        table = Table(title=f"Fleet upgrade, {results['tenants']} tenants, "
                            f"{results['workers']} workers, whole processes, medians of "
                            f"{self.rounds} rounds (wall / CPU)", title_justify="left")
        for column in ("scenario", *names, "stock mp / dgbox (same round, median)"):
            table.add_column(column, justify="left" if column == "scenario" else "right")
        summary: dict = {}
        for scenario in SCENARIOS:
            runs = results["runs"][scenario]
            medians = {n: {"wall": statistics.median(r["wall"] for r in runs[n]),
                           "cpu": statistics.median(r["cpu"] for r in runs[n])} for n in names}
            ratio = statistics.median(s["wall"] / d["wall"]
                                      for s, d in zip(runs[STOCK_MP], runs[DGBOX], strict=True))
            summary[scenario] = {"median": medians, "stock_mp_over_dgbox": round(ratio, 2)}
            table.add_row(scenario, *(f"{medians[n]['wall']:.2f} s / {medians[n]['cpu']:.2f} s"
                                      for n in names), f"{ratio:.1f}x")
        results["summary"] = summary
        self.console.print(table)
        self.console.print(f"Load average {results['load_average_at_start']} at the start, "
                           f"{results['load_average_at_end']} at the end.")
        out = ROOT / "bench" / "results" / "rollout.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        self.console.print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
