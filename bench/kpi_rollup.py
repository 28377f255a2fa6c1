"""KPI roll-ups by level computed on read: how long the console's figures take at a national
scale, and the plans PostgreSQL chooses.

    python -m infra.localservices run -- .venv/bin/python bench/kpi_rollup.py \\
        [--tenants 2000] [--days 365] [--rounds 5]

What runs: a database of its own (--database, created on the first run and kept; --fresh
drops it first), migrated, with --tenants tenant rows (85 regions, the rest municipalities
spread over them; rows only, no schemas) and one `TenantKpi` row per tenant and day for
--days days (random counts, a decision-time histogram of a few keys), then ANALYZE.

Measured, median of --rounds: `rollup.levels()` plus the nation's or region's totals and
`rollup.trend()` (everything the dashboard computes) for the nation and for one region, over
30 and 365 days; queries per call; and EXPLAIN (ANALYZE) of a region's three roll-up queries.
Figures are printed and written to bench/results/kpi_rollup.json. A measurement, never a test.
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REGIONS = 85


def fill(tenants: int, days: int, end: datetime.date) -> None:
    from django.db import connection

    from tenants.models import Tenant, TenantKpi

    if Tenant.objects.filter(slug__startswith="kpib-").count() == tenants and \
            TenantKpi.objects.filter(day=end - datetime.timedelta(days=days - 1)).exists():
        return
    TenantKpi.objects.all().delete()
    Tenant.objects.filter(slug__startswith="kpib-m").delete()
    Tenant.objects.filter(slug__startswith="kpib-").delete()
    regions = Tenant.objects.bulk_create(
        Tenant(name=f"Регион {i}", slug=f"kpib-r{i}", schema_name=f"kpib_r{i}", kind="region",
               status="active", population=1_000_000 + i) for i in range(REGIONS))
    Tenant.objects.bulk_create(
        Tenant(name=f"Район {i}", slug=f"kpib-m{i}", schema_name=f"kpib_m{i}",
               kind="municipality", parent=regions[i % REGIONS], status="active",
               population=(10_000 + i) if i % 10 else None)
        for i in range(tenants - REGIONS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TenantKpi._meta.db_table} (tenant_id, schema_name, category, day, "  # nosec B608
            "cases_online, cases_office, cases_phone, cases_post, decided, "
            "decided_with_deadline, decided_on_time, decided_automatically, decision_days, "
            "page_views, forms_started, feedback_useful, feedback_not_useful, cost, savings, "
            "services_published, services_online, services_api, computed_at) "
            "SELECT t.id, t.schema_name, '', d::date, (random()*40)::int, (random()*10)::int, "
            "(random()*5)::int, (random()*3)::int, 20, 18, (random()*18)::int, "
            "(random()*10)::int, jsonb_build_object('1', 5, '3', 7, "
            "(5 + (random()*20)::int)::text, 8), 400, 90, 10, 3, 500, 900, 40, 20, 5, now() "
            "FROM tenants_tenant t, generate_series(%s::date, %s::date, '1 day') d "
            "WHERE t.slug LIKE 'kpib-%%'", [end - datetime.timedelta(days=days - 1), end])
        cursor.execute(f"ANALYZE {TenantKpi._meta.db_table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", default="dgbox_bench_kpi_rollup")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()

    from bench.common import database_url

    os.environ["DATABASE_URL"] = database_url(args.database, args.fresh)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.base")
    os.environ["DGBOX_LOG_LEVEL"] = "ERROR"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.test.utils import CaptureQueriesContext

    from tenants.kpis import rollup
    from tenants.models import Tenant

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    end = datetime.date(2026, 11, 30)
    started = time.perf_counter()
    fill(args.tenants, args.days, end)
    print(f"data ready in {time.perf_counter() - started:.1f} s")
    region = Tenant.objects.get(slug="kpib-r0")
    results: dict[str, dict[str, float]] = {}
    for days in (30, args.days):
        period = rollup.Period(end - datetime.timedelta(days=days - 1), end)
        for name, of in (("nation", None), ("region", region)):
            def dashboard(of=of, period=period):  # what the console's dashboard computes
                scope = rollup.scope_of(of)
                levels = rollup.levels(period, "", scope)
                unit = levels.nation() if of is None else levels.of_region(of)
                peers = ([levels.of_region(r) for r in levels.regions()] if of is None
                         else [levels.of_tenant(t) for t in levels.municipalities(of)])
                for indicator in rollup.INDICATORS.values():
                    rollup.rank(peers, indicator)
                rollup.trend(period, "", scope)
                return unit

            timings = []
            for _ in range(args.rounds):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    unit = dashboard()
                    timings.append(time.perf_counter() - t0)
            key = f"{name}_{days}d"
            results[key] = {"median_ms": round(statistics.median(timings) * 1000, 1),
                            "queries": len(ctx.captured_queries), "cases": unit.totals.cases}
            print(f"{key}: {results[key]}")
    # The plans of a region's roll-up over the whole period: sums, histograms, gauges.
    period = rollup.Period(end - datetime.timedelta(days=args.days - 1), end)
    with CaptureQueriesContext(connection) as ctx:
        rollup.tenant_totals(period, "", rollup.scope_of(region))
    plan: list[str] = []
    with connection.cursor() as cursor:
        for query in ctx.captured_queries:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
            plan += [row[0] for row in cursor.fetchall()] + [""]
    print("\n".join(plan))
    out = ROOT / "bench" / "results" / "kpi_rollup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"tenants": args.tenants, "days": args.days,
                               "load": os.getloadavg(), "results": results,
                               "region_plan": plan}, indent=2))


if __name__ == "__main__":
    main()
