"""Fleet upgrade time: stock django-tenants `migrate_schemas` versus `dgbox rollout run`.

    python bench/rollout.py [--tenants 200] [--workers 0] [--skip-standard]

Builds its own database (DATABASE_URL, default .../dgbox_bench_rollout) with N tenants
launched the dgbox way (kept between runs), then measures in the same run:

  no-op          every schema is up to date
  one migration  one new tenant migration (the test-only app tests/rollout_fixture switched to
                 its `migrations_bench` module: 0002 adds a nullable column)

for each of
  stock standard         django-tenants' own migrate_schemas (not dgbox's `migrate`
                         override), --executor standard: Django's `migrate` once per schema
  stock multiprocessing  the same with --executor multiprocessing
                         (TENANT_MULTIPROCESSING_MAX_PROCESSES = --workers)
  dgbox rollout          `dgbox rollout run` with its defaults: public schema, template
                         refresh (new snapshot, spare pool rebuilt), canary ring and waves,
                         maintenance per tenant and a health check (home page, service page,
                         schema probe) after each tenant
  dgbox, --signals always  the same, sending pre/post_migrate in every migrated tenant as
                           Django does (the default sends them only when models may change)
  dgbox, --no-health-check the default without the health checks, to show their share

Before each one-migration measurement every schema (tenants, template, public) is put back to
"0002 pending" (the column dropped, the record deleted), so every side does the same work;
afterwards each side's result is checked in every tenant schema. Figures are printed and
written to bench/results/rollout.json. It is a measurement, never a test; the machine should be
otherwise idle.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dgbox_bench_rollout")
os.environ.setdefault("DGBOX_LOG_LEVEL", "ERROR")
V1 = "tests.rollout_fixture.migrations"
BENCH = "tests.rollout_fixture.migrations_bench"
NEW = ("rollout_fixture", "0002_marker_checked_at")


def configure(workers: int) -> None:
    """dgbox's development settings, production-like (DEBUG off), plus the test-only app."""
    import django
    from django.conf import settings

    import dgbox.settings.dev as dev

    values = {name: getattr(dev, name) for name in dir(dev) if name.isupper()}
    values.update(
        DEBUG=False,
        TENANT_APPS=[*dev.TENANT_APPS, "tests.rollout_fixture"],
        INSTALLED_APPS=[*dev.INSTALLED_APPS, "tests.rollout_fixture"],
        MIGRATION_MODULES={"rollout_fixture": V1},
        TENANT_MULTIPROCESSING_MAX_PROCESSES=workers,
    )
    settings.configure(**values)
    django.setup()


def ensure_database() -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {"dbname": "postgres", "user": db.get("USER") or None,
              "password": db.get("PASSWORD") or None, "host": db.get("HOST") or None,
              "port": db.get("PORT") or None, "autocommit": True}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [db["NAME"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=200, help="fleet size (default 200)")
    parser.add_argument("--workers", type=int, default=0,
                        help="parallelism of both dgbox and the stock multiprocessing executor "
                             "(default: CPUs, at most 4)")
    parser.add_argument("--skip-standard", action="store_true",
                        help="leave out the (slowest) stock standard executor")
    args = parser.parse_args()
    workers = args.workers or max(1, min(4, os.cpu_count() or 1))
    configure(workers)
    ensure_database()
    Bench(args.tenants, workers, args.skip_standard).run()


class Bench:
    def __init__(self, tenants: int, workers: int, skip_standard: bool):
        from rich.console import Console

        self.n = tenants
        self.workers = workers
        self.skip_standard = skip_standard
        # Full width when piped, so the table is never truncated.
        self.console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

    def run(self):
        from django.core.management import call_command
        from django.db import connection
        from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

        from tenants.bootstrap import ensure_public_tenant
        from tenants.launch import template

        with self.console.status("Migrating the benchmark database, refreshing the template..."):
            # What `dgbox migrate` does, without its S3 bucket check (not needed here).
            call_command(MigrateSchemasCommand(), interactive=False, verbosity=0)
            ensure_public_tenant()
            template.refresh_template()
        self.ensure_fleet()
        self.schemas = self.tenant_schemas()
        graph_size = len(template.expected_migration_keys())
        self.console.print(f"{len(self.schemas)} tenants, {graph_size} tenant migrations, "
                           f"PostgreSQL {connection.pg_version // 10000}, {os.cpu_count()} CPUs, "
                           f"{self.workers} workers")
        sides = [("stock standard", self.stock("standard")),
                 ("stock multiprocessing", self.stock("multiprocessing")),
                 ("dgbox rollout", self.dgbox()),
                 ("dgbox, --signals always", self.dgbox("--signals", "always")),
                 ("dgbox, --no-health-check", self.dgbox("--no-health-check"))]
        if self.skip_standard:
            sides = sides[1:]
        results = {"tenants": len(self.schemas), "workers": self.workers,
                   "tenant_migrations": graph_size, "cpus": os.cpu_count(),
                   "load_average_at_start": round(os.getloadavg()[0], 2),
                   "no-op": {}, "one migration": {}}

        self.use(V1)
        for name, side in sides:
            results["no-op"][name] = self.measure("no-op", name, side)
        self.use(BENCH)
        for name, side in sides:
            self.reset_to_pending()
            results["one migration"][name] = self.measure("one migration", name, side)
            self.check_all_migrated(name)
        self.reset_to_pending()
        self.use(V1)
        self.restore_spares()
        results["load_average_at_end"] = round(os.getloadavg()[0], 2)
        self.report(results)

    # --- Sides --------------------------------------------------------------------------------

    def stock(self, executor):
        def side():
            from django.core.management import call_command
            from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

            call_command(MigrateSchemasCommand(), executor=executor, interactive=False,
                         verbosity=0, stdout=StringIO())
        return side

    def dgbox(self, *extra):
        def side():
            from django.core.management import call_command

            out = StringIO()
            report = Path(tempfile.gettempdir()) / f"dgbox-bench-rollout-{os.getpid()}.json"
            call_command("rollout", "run", "--workers", str(self.workers), "--report",
                         str(report), *extra, stdout=out)
        return side

    def measure(self, scenario, name, side) -> float:
        from django.db import connection

        with self.console.status(f"{scenario}: {name}..."):
            connection.set_schema_to_public()
            started = time.perf_counter()
            side()
            elapsed = time.perf_counter() - started
        connection.set_schema_to_public()
        self.console.print(f"  {scenario:14} {name:32} {elapsed:8.2f} s")
        return round(elapsed, 3)

    # --- State ----------------------------------------------------------------------------------

    def use(self, module):
        from django.conf import settings

        from tenants.launch import template
        from tenants.rollout import engine, plan

        settings.MIGRATION_MODULES = {"rollout_fixture": module}
        plan.reset_caches()
        engine.reset_engine()
        template.expected_migration_keys.cache_clear()
        template.migrations_fingerprint.cache_clear()
        template._snapshot_cache.clear()

    def tenant_schemas(self) -> list[str]:
        from tenants.models import Tenant

        return list(Tenant.objects.launched().values_list("schema_name", flat=True))

    def reset_to_pending(self):
        """Every schema back to "0002 not applied", as its reverse migration would leave it."""
        from django.db import connection

        from tenants.launch import template

        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            for schema in [*self.schemas, template.TEMPLATE_SCHEMA]:
                cursor.execute(f"ALTER TABLE {schema}.rollout_fixture_marker "
                               "DROP COLUMN IF EXISTS checked_at")
            for schema in [*self.schemas, template.TEMPLATE_SCHEMA, "public"]:
                cursor.execute(f"DELETE FROM {schema}.django_migrations "
                               "WHERE app = %s AND name = %s", NEW)

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

    def restore_spares(self):
        from tenants.launch import spares, template

        template.refresh_template()
        spares.drop_stale()
        spares.fill_pool()

    def ensure_fleet(self):
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
                progress.advance(task)

    # --- Output ---------------------------------------------------------------------------------

    def report(self, results):
        from rich.table import Table

        table = Table(title=f"Fleet upgrade, {results['tenants']} tenants, "
                            f"{results['workers']} workers", title_justify="left")
        names = list(results["no-op"])
        for column in ("scenario", *names, "dgbox vs stock standard", "dgbox vs stock mp"):
            table.add_column(column, justify="left" if column == "scenario" else "right")
        for scenario in ("no-op", "one migration"):
            row = results[scenario]
            ours = row["dgbox rollout"]
            ratios = [f"{row[b] / ours:.1f}x" if b in row else "-"
                      for b in ("stock standard", "stock multiprocessing")]
            table.add_row(scenario, *(f"{row[n]:.2f} s" for n in names), *ratios)
        self.console.print(table)
        out = ROOT / "bench" / "results" / "rollout.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        self.console.print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
