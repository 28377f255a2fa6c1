"""The rollout health check's schema part: the catalog query (today) against the probe it
replaced (a `SELECT ... LIMIT 0` per model, some 400 statements in one round trip).

    python bench/health_check.py [--schemas 10] [--rounds 2]

Runs on the database bench/rollout.py builds (DATABASE_URL, default dgbox_bench_rollout).
Each round gives each side a fresh connection and `--schemas` tenant schemas it has not seen
in that round, the sides' order alternating; it prints the time per schema and how much the
connection's server process grew (pg_backend_memory_contexts), which is what a rollout worker
keeps for as long as it lives. A measurement, never a test.
"""

import argparse
import os
import sys
import time
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dgbox_bench_rollout")
os.environ.setdefault("DGBOX_LOG_LEVEL", "ERROR")
os.environ["DJANGO_SETTINGS_MODULE"] = "rollout_settings"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schemas", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection

    from tenants.models import Tenant
    from tenants.rollout import health

    def probe(schema_name: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(probe_sql(schema_name))

    # The same scope on both sides: tables and columns (the search-path query included), not
    # the pending-migrations part, which did not change.
    sides = {"probe (before)": probe, "catalog (now)": health._check_tables}
    schemas = list(Tenant.objects.launched().order_by("schema_name")
                   .values_list("schema_name", flat=True))
    if len(schemas) < args.schemas * args.rounds * len(sides):
        raise SystemExit("not enough tenants: run bench/rollout.py first, or lower --schemas")
    print(f"load average {os.getloadavg()[0]:.2f} at the start (shared machine)")
    batches = iter(schemas[i:i + args.schemas] for i in range(0, len(schemas), args.schemas))
    for round_no in range(args.rounds):
        names = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in names:
            batch = next(batches)
            connection.close()
            connection.set_schema_to_public()
            before = backend_memory(connection)
            started, cpu = time.perf_counter(), time.process_time()
            for schema_name in batch:
                connection.set_schema(schema_name)
                sides[name](schema_name)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            connection.set_schema_to_public()
            grown = backend_memory(connection) - before
            print(f"round {round_no + 1}  {name:15} {wall / len(batch) * 1000:7.1f} ms wall "
                  f"{cpu / len(batch) * 1000:6.1f} ms CPU per schema; server process +"
                  f"{grown / 2**20:5.1f} MB after {len(batch)} schemas; load "
                  f"{os.getloadavg()[0]:.2f}")


def backend_memory(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
        return int(cursor.fetchone()[0])


def probe_sql(schema_name: str) -> str:
    """The probe the health check ran until 2026-12 (tenants/rollout/health.py then)."""
    from django.apps import apps
    from django.db import connection

    from tenants.rollout.plan import migration_graph

    graph, quote, statements = migration_graph(), connection.ops.quote_name, []
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if not opts.managed or opts.proxy or not graph.app_has_tables(opts.app_label,
                                                                       schema_name):
            continue
        columns = ", ".join(quote(cast(str, f.column)) for f in opts.local_concrete_fields)
        statements.append(f"SELECT {columns} FROM {quote(opts.db_table)} LIMIT 0")
    return ";\n".join(statements)


if __name__ == "__main__":
    main()
