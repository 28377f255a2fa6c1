"""The national portal and the operator console's home at fleet scale (5,000 tenants): whole
requests, cold and warm cache, and proof that they read only the public schema.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/portal_console.py [--tenants 5000] [--regions 2500] \\
        [--days 365] [--requests 30] [--rounds 3]

What runs: a database of its own (--database, created, migrated and filled on the first run
and kept; --fresh drops it first) holding only the PUBLIC rows of --tenants tenants: the
Tenant rows (--regions regions, the rest municipalities spread over them; Cyrillic names; one
in 25 suspended, one in 100 archived, one in 200 still provisioning), one Domain each, and a
UsageRecord per tenant and day for --days days (counters and gauges), then ANALYZE. No
tenant schema is created: these pages read the public schema only, and the benchmark checks
it on every timed request (every `SET search_path` the database backend sends is recorded,
and a tenant schema among them fails the run; no statement may name a tenant schema;
and the tenants' schemas are confirmed absent from pg_namespace). --regions defaults to 2,500
(2,400 of them active: 96 portal pages of 25, so `?page=100` is served as the last); the
console home does not show KPIs, so no KPI rows are written.

Each page is requested through Django's WSGI handler in this process (django.test.Client,
production settings, the cache as in production: Redis when REDIS_URL is set), the console's
as a signed-in national operator whose session is verified with a second factor. Pages:
portal first page, portal search (lower-case Cyrillic), portal page 100; console home sorted
by name, by a usage figure (API calls), a search, and its last page. Each page is timed
"cold" and "warm"; rounds alternate the order of the two. On a commit with the usage summary
(tenants/metering/summary.py, issue 18) "warm" is after the beat job has run (run here, timed
and printed, whenever its figures are missing) and "cold" before it ever ran (its figures
deleted, the job already queued: the page answers without them); on an earlier commit "cold"
deletes the cached fleet figures before every request (the request sums them) and "warm" has
them cached. A database built before the summary's migration: migrate its public schema once
(`migrate_schemas --shared`; a full migrate would look for the absent tenant schemas). Per
page: p50/p95 of wall time, this process's CPU per request, the PostgreSQL backend's CPU per
request, queries and response bytes; with the load average. Figures are printed and
written to bench/results/portal_console.json. A measurement, never a test.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import migrate_once, setup_django, signed_in_operator  # noqa: E402

PREFIX = "pc"  # slugs pc-r12 / pc-m34, schemas pc_r12 / pc_m34 (never created)
PLACES = ("Берёзовский", "Каменский", "Ольховский", "Заречный", "Сосновский", "Никольский",
          "Солнечный", "Полярный", "Озёрный", "Луговой")
SEARCH = "берёз"  # lower case, with ё: one name in ten


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def fill(tenants: int, regions: int, days: int, console) -> None:
    """The public rows of `tenants` tenants and `days` days of usage each (kept between runs
    when the counts match)."""
    from django.conf import settings
    from django.db import connection, transaction

    from tenants.bootstrap import ensure_public_tenant
    from tenants.metering import platform_today
    from tenants.models import Domain, Tenant, UsageRecord

    ensure_public_tenant()
    today = platform_today()
    have = Tenant.objects.filter(slug__startswith=f"{PREFIX}-").count()
    first = today - datetime.timedelta(days=days - 1)
    if have == tenants and UsageRecord.objects.filter(day=first).count() >= tenants \
            and UsageRecord.objects.filter(day=today).count() >= tenants:
        return
    with console.status(f"Writing {tenants:,} tenants and {tenants * days:,} usage rows..."), \
            transaction.atomic():
        UsageRecord.objects.all().delete()
        Domain.objects.filter(tenant__slug__startswith=f"{PREFIX}-").delete()
        Tenant.objects.filter(slug__startswith=f"{PREFIX}-m").delete()
        Tenant.objects.filter(slug__startswith=f"{PREFIX}-").delete()

        def status(i: int) -> str:
            return ("archived" if i % 100 == 99 else "suspended" if i % 25 == 24
                    else "provisioning" if i % 200 == 199 else "active")

        made = Tenant.objects.bulk_create(
            Tenant(name=f"{'Республика' if i % 3 else 'Область'} {PLACES[i % 10]} {i}",
                   slug=f"{PREFIX}-r{i}", schema_name=f"{PREFIX}_r{i}", kind="region",
                   status=status(i), release="2026.12", release_channel="stable")
            for i in range(regions))
        made += Tenant.objects.bulk_create(
            Tenant(name=f"{PLACES[(i * 7) % 10]} район {i}", slug=f"{PREFIX}-m{i}",
                   schema_name=f"{PREFIX}_m{i}", kind="municipality",
                   parent=made[i % regions], status=status(i + 1), release="2026.12",
                   release_channel="canary" if i % 10 == 0 else "stable")
            for i in range(tenants - regions))
        Domain.objects.bulk_create(
            Domain(tenant=t, domain=f"{t.slug}.{settings.BASE_DOMAIN}", is_primary=True)
            for t in made)
        with connection.cursor() as cursor:  # one statement: ~1.8 million rows in seconds
            cursor.execute(
                f"""INSERT INTO {UsageRecord._meta.db_table}
                    (tenant_id, schema_name, day, cases_new, cases_total, cases_open,
                     notifications_sent, sms_sent, api_calls, storage_objects, storage_bytes,
                     media_bytes, collected_at)
                SELECT t.id, t.schema_name, d::date, (random() * 40)::int,
                       1000 + (t.id %% 5000), (t.id %% 300), (random() * 120)::int,
                       (random() * 20)::int, (random() * 5000)::int, t.id %% 900,
                       (t.id %% 1000) * 1048576, (t.id %% 400) * 1048576, now()
                FROM {Tenant._meta.db_table} t
                CROSS JOIN generate_series(%s::date, %s::date, interval '1 day') d
                WHERE t.slug LIKE %s""",  # table names from the models
                [first, today, f"{PREFIX}-%"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


class PublicOnly:
    """Records every schema the database backend puts on search_path and every statement,
    for the requests made while it is installed; `check()` fails on any tenant schema."""

    def __init__(self, connection, schemas: set[str]):
        self.connection, self.schemas = connection, schemas
        self.paths: list[str] = []
        self.statements = 0
        self.named: list[str] = []

    def __enter__(self):
        conn = self.connection
        original = type(conn)._handle_search_path

        def handle(cursor=None):
            original(conn, cursor)
            self.paths.extend(conn.search_path_set_schemas or ())

        conn._handle_search_path = handle
        self._wrapper = conn.execute_wrapper(self._record)
        self._wrapper.__enter__()
        return self

    def _record(self, execute, sql, params, many, context):
        self.statements += 1
        if '"' + PREFIX + "_" in sql:
            self.named.append(sql[:200])
        return execute(sql, params, many, context)

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)
        del self.connection._handle_search_path

    def check(self) -> None:
        from django_tenants.utils import get_public_schema_name

        others = {s for s in self.paths if s != get_public_schema_name()}
        if others & self.schemas or self.named:
            raise SystemExit(f"a page touched a tenant schema: {sorted(others)[:5]} "
                             f"{self.named[:2]}")


def _summary():
    """tenants.metering.summary (issue 18: figures computed ahead by a beat job), or None on a
    commit from before it, so the same script measures both sides."""
    try:
        from tenants.metering import summary
    except ImportError:
        return None
    return summary


def forget_cached_figures() -> None:
    """What a cold console request finds: none of the console's cached fleet figures (before
    the summary: the cache's; with it, also kept from queueing the job again, as every view
    but one per interval is: the job runs in a worker, never in the timed request)."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):  # django-redis: only the console's keys, not others'
        cache.delete_pattern("*console:*")
    else:
        cache.clear()  # a per-process cache: this process's only
    if (summary := _summary()) is not None:
        cache.set(summary.QUEUED_KEY, True, 3600)


def prepare_batch(mode: str, jobs: list[dict[str, float]]) -> None:
    """With the summary: "warm" is after the beat job has run (run here when its figures are
    missing, timed into `jobs`), "cold" is before it ever ran (its figures deleted)."""
    from django.db import connection

    if (summary := _summary()) is None:
        return
    from tenants.models import FleetUsage, UsageSummary

    if mode == "cold":
        UsageSummary.objects.all().delete()
        FleetUsage.objects.all().delete()
    elif not FleetUsage.objects.exists():
        db0, wall, cpu = backend_cpu(), time.perf_counter(), time.process_time()
        summary.refresh()
        jobs.append({"ms": (time.perf_counter() - wall) * 1000,
                     "cpu_ms": (time.process_time() - cpu) * 1000,
                     "db_cpu_ms": (backend_cpu() - db0) * 1000})
        with connection.cursor() as cursor:  # as autovacuum would after the job's writes
            cursor.execute(f"VACUUM ANALYZE {UsageSummary._meta.db_table}")


def backend_cpu() -> float:
    """CPU seconds the PostgreSQL backend serving this process has used so far."""
    import psutil
    from django.db import connection

    connection.ensure_connection()
    times = psutil.Process(connection.connection.info.backend_pid).cpu_times()
    return times.user + times.system


def measure(client, pages, requests, rounds, guard, console):
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    host = settings.BASE_DOMAIN
    results = {name: {mode: {"ms": [], "cpu_ms": [], "db_cpu_ms": []}
                      for mode in ("cold", "warm")} for name in pages}
    facts = {}
    jobs: list[dict[str, float]] = []
    prepare_batch("warm", jobs)
    for path in pages.values():  # warm up templates, the host cache, the session
        response = client.get(path, HTTP_HOST=host)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}: "
                             f"{response.get('Location', '')}")
    for round_no in range(rounds):
        modes = ("cold", "warm") if round_no % 2 == 0 else ("warm", "cold")
        for name, path in pages.items():
            for mode in modes:
                samples = results[name][mode]
                prepare_batch(mode, jobs)
                if mode == "warm":
                    client.get(path, HTTP_HOST=host)
                # The backend's CPU is counted in clock ticks (10 ms): per batch, not per request.
                db0 = backend_cpu()
                for _ in range(requests):
                    if mode == "cold":
                        forget_cached_figures()
                    wall, cpu = time.perf_counter(), time.process_time()
                    with guard:
                        response = client.get(path, HTTP_HOST=host)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    if response.status_code != 200:
                        raise SystemExit(f"{path} answered {response.status_code}")
                    samples["ms"].append(wall * 1000)
                    samples["cpu_ms"].append(cpu * 1000)
                samples["db_cpu_ms"].append((backend_cpu() - db0) * 1000 / requests)
        console.print(f"  round {round_no + 1} of {rounds} done, load average "
                      f"{os.getloadavg()[0]:.2f}")
    for name, path in pages.items():
        for mode in ("cold", "warm"):
            prepare_batch(mode, jobs)
            if mode == "cold":
                forget_cached_figures()
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(path, HTTP_HOST=host)
            facts[name, mode] = {"queries": len(ctx.captured_queries),
                                 "bytes": len(response.content)}
    guard.check()
    return jobs, {name: {mode: {"p50_ms": statistics.median(s["ms"]),
                          "p95_ms": percentile(s["ms"], 0.95),
                          "cpu_ms": statistics.median(s["cpu_ms"]),
                          "db_cpu_ms": statistics.median(s["db_cpu_ms"]),
                          **facts[name, mode]}
                   for mode, s in sides.items()}
            for name, sides in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=5000)
    parser.add_argument("--regions", type=int, default=2500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=30, help="requests per page and mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default="dgbox_bench_portal")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    if not 0 < args.regions <= args.tenants:
        parser.error("--regions must be between 1 and --tenants")

    setup_django(args.database, args.fresh)
    from django.conf import settings
    from django.db import connection, connections
    from rich.console import Console
    from rich.table import Table

    from tenants.models import Tenant

    console = Console(width=150)
    migrate_once(console)
    started = time.perf_counter()
    fill(args.tenants, args.regions, args.days, console)
    console.print(f"Data ready in {time.perf_counter() - started:.1f} s")
    schemas = set(Tenant.objects.filter(slug__startswith=f"{PREFIX}-")
                  .values_list("schema_name", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s",
                       [f"{PREFIX}\\_%"])
        existing = cursor.fetchone()[0]
    if existing:
        raise SystemExit(f"{existing} tenant schemas exist; the benchmark assumes none (--fresh)")
    last = -(-Tenant.objects.launched().count() // 50)
    pages = {
        "portal, first page": "/",
        f"portal, search “{SEARCH}”": f"/?q={SEARCH}",
        "portal, page 100": "/?page=100",
        "console, by name": "/operator/?sort=name",
        "console, by API calls": "/operator/?sort=api",
        f"console, search “{SEARCH}”": f"/operator/?q={SEARCH}",
        f"console, last page ({last})": f"/operator/?page={last}",
    }
    client = signed_in_operator()
    load_before = os.getloadavg()
    guard = PublicOnly(connections["default"], schemas)  # the wrapper, not the proxy
    jobs, figures = measure(client, pages, args.requests, args.rounds, guard, console)
    load_after = os.getloadavg()

    table = Table(title=f"Portal and console, {len(schemas):,} tenants ({args.regions:,} "
                        f"regions), {args.days} days of usage; load average "
                        f"{load_before[0]:.2f} → {load_after[0]:.2f}", title_justify="left")
    for column in ("page", "cache", "p50 ms", "p95 ms", "CPU ms/req", "DB CPU ms/req",
                   "queries", "bytes"):
        table.add_column(column, justify="left" if column in ("page", "cache") else "right")
    for name, sides in figures.items():
        for mode, f in sides.items():
            table.add_row(name, mode, f"{f['p50_ms']:.1f}", f"{f['p95_ms']:.1f}",
                          f"{f['cpu_ms']:.1f}", f"{f['db_cpu_ms']:.1f}", str(f["queries"]),
                          f"{f['bytes']:,}")
    console.print(table)
    for job in jobs:
        console.print(f"The beat job tenants.summarise_usage (3 periods): {job['ms']:,.0f} ms, "
                      f"CPU {job['cpu_ms']:,.0f} ms, DB CPU {job['db_cpu_ms']:,.0f} ms")
    console.print(f"Public schema only: {guard.statements:,} statements, the backend's "
                  f"search_path checked {len(guard.paths):,} times, always "
                  f"{sorted(set(guard.paths)) or ['(never set)']}; no statement names a tenant "
                  f"schema; none exists. Cache: {settings.CACHES['default']['BACKEND']}")
    out = ROOT / "bench" / "results" / "portal_console.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "tenants": len(schemas), "regions": args.regions, "days": args.days,
        "pages": figures, "summary_job": jobs, "statements": guard.statements,
        "search_path": sorted(set(guard.paths)),
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": [load_before, load_after],
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat()}, indent=2,
        ensure_ascii=False))
    console.print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
