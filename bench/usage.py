"""Usage metering: what counting API calls costs each call, how long measuring the fleet
takes, and how fast the operator console answers with a fleet's usage history.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/usage.py [--tenants 100] [--requests 300] [--rounds 7]

What runs: a database of its own (--database, created and filled on the first run and kept;
--fresh drops it first) with --tenants tenants, each with the demo site.

1. The open API (`/api/v2/pages/?type=cms.ServicePage&fields=...`), each request to a random
   tenant, through Django's test Client in this process with the cache as in production
   (Redis when REDIS_URL is set): with the metering middleware and, as the baseline, the same
   middleware stack without it, in the same run; rounds alternate which side goes first.
   Median requests per second and this process's CPU time per request.
2. `collect_usage()` in every tenant's schema one after the other (what `dgbox usage collect`
   and the hourly job do): cases and messages from the tenant's schema, the S3 prefix listed
   on the loopback SeaweedFS, the media folder walked.
3. The operator console's home page with 90 days of usage rows per tenant, 30-day view:
   latency and queries per request.

Figures are printed and written to bench/results/usage.json. A measurement, never a test.
"""

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "usage-{:03d}"
API_PATH = ("/api/v2/pages/?type=cms.ServicePage&fields=summary,cost_kind,processing_days,"
            "channels&limit=20")
METER = "tenants.metering.ApiCallMeterMiddleware"


def prepare(count, console):
    from django.db import connection
    from django_tenants.utils import tenant_context
    from rich.progress import Progress

    from bench.common import migrate_once
    from demo.site import populate
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    migrate_once(console)
    have = set(Tenant.objects.filter(slug__startswith="usage-").values_list("slug", flat=True))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Launching tenants with the demo site", total=count)
        for i in range(count):
            slug = SLUG.format(i)
            if slug not in have:
                launch_tenant(LaunchRequest(name=f"Usage {i}", kind="region", slug=slug,
                                            admin_email=f"admin@{slug}.example"))
                with tenant_context(Tenant.objects.get(slug=slug)):
                    populate("ru")
            progress.advance(task)
    connection.set_schema_to_public()
    return list(Tenant.objects.filter(slug__startswith="usage-").order_by("slug")[:count])


def api_rounds(tenants, requests, rounds, console):
    from django.conf import settings
    from django.test import Client

    hosts = [f"{t.slug}.{settings.BASE_DOMAIN}" for t in tenants]
    metered = Client()
    saved = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [m for m in saved if m != METER]
    bare = Client()
    # Each client builds its middleware chain on its first request: warm both up now.
    for client in (bare, metered):
        for host in hosts[:10]:
            assert client.get(API_PATH, HTTP_HOST=host).status_code == 200
    settings.MIDDLEWARE = saved
    sides = {"without metering": bare, "with metering": metered}
    results = {name: {"rps": [], "cpu_ms": []} for name in sides}
    rng = random.Random(7)  # noqa: S311 - the same host sequence for both sides
    for round_no in range(rounds):
        sequence = [rng.choice(hosts) for _ in range(requests)]
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in order:
            client = sides[name]
            wall, cpu = time.perf_counter(), time.process_time()
            for host in sequence:
                response = client.get(API_PATH, HTTP_HOST=host)
                if response.status_code != 200:
                    raise SystemExit(f"{host}{API_PATH} answered {response.status_code}")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[name]["rps"].append(requests / wall)
            results[name]["cpu_ms"].append(cpu / requests * 1000)
        console.print(f"  round {round_no + 1}: " + ", ".join(
            f"{n} {results[n]['rps'][-1]:.0f} req/s" for n in order))
    return {name: {"rps": statistics.median(r["rps"]),
                   "cpu_ms": statistics.median(r["cpu_ms"])} for name, r in results.items()}


def collect_all(tenants, console):
    from django.db import connection
    from django_tenants.utils import tenant_context

    from tenants import metering

    times = []
    with console.status("Measuring every tenant..."):
        started = time.perf_counter()
        for tenant in tenants:
            t0 = time.perf_counter()
            with tenant_context(tenant):
                metering.collect_usage()
            times.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - started
    connection.set_schema_to_public()
    times.sort()
    return {"tenants": len(tenants), "seconds": total, "p50_ms": statistics.median(times),
            "p95_ms": times[int(len(times) * 0.95) - 1]}


def console_page(tenants, requests):
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.common import signed_in_operator
    from tenants import metering
    from tenants.models import UsageRecord

    today = metering.platform_today()
    rng = random.Random(11)  # noqa: S311 - a reproducible spread, not a secret
    UsageRecord.objects.filter(schema_name__in=[t.schema_name for t in tenants],
                               day__lt=today).delete()
    UsageRecord.objects.bulk_create([
        UsageRecord(tenant=t, schema_name=t.schema_name, day=today - datetime.timedelta(days=d),
                    cases_new=rng.randint(0, 40), notifications_sent=rng.randint(0, 120),
                    sms_sent=rng.randint(0, 20), api_calls=rng.randint(0, 5000),
                    collected_at=timezone.now())
        for t in tenants for d in range(1, 90)])
    client = signed_in_operator()
    host = settings.BASE_DOMAIN
    for _ in range(3):
        response = client.get("/operator/?days=30", HTTP_HOST=host)
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        client.get("/operator/?days=30", HTTP_HOST=host)
        samples.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/operator/?days=30", HTTP_HOST=host)
    samples.sort()
    return {"rows": UsageRecord.objects.count(), "p50_ms": statistics.median(samples),
            "p95_ms": samples[int(len(samples) * 0.95) - 1],
            "queries": len(ctx.captured_queries)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300,
                        help="API requests per side per round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--console-requests", type=int, default=30)
    parser.add_argument("--database", default="dgbox_bench_usage")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()

    from bench.common import setup_django

    # DGBOX_API_RATE: measure the API, not the throttle.
    setup_django(args.database, args.fresh, DGBOX_API_RATE="100000000/minute")
    from django.conf import settings
    from rich.console import Console
    from rich.table import Table

    from infra.s3 import ensure_bucket

    console = Console()
    ensure_bucket()
    tenants = prepare(args.tenants, console)
    console.print(f"{len(tenants)} tenants; cache: {settings.CACHES['default']['BACKEND']}")
    api = api_rounds(tenants, args.requests, args.rounds, console)
    collected = collect_all(tenants, console)
    page = console_page(tenants, args.console_requests)

    base, metered = api["without metering"], api["with metering"]
    table = Table(title=f"Usage metering, {len(tenants)} tenants", title_justify="left")
    for column in ("what", "figure"):
        table.add_column(column)
    table.add_row("open API, without metering",
                  f"{base['rps']:.0f} req/s, {base['cpu_ms']:.2f} ms CPU/req")
    table.add_row("open API, with metering",
                  f"{metered['rps']:.0f} req/s ({metered['rps'] / base['rps']:.0%}), "
                  f"{metered['cpu_ms']:.2f} ms CPU/req "
                  f"(+{metered['cpu_ms'] - base['cpu_ms']:.2f} ms)")
    table.add_row("measuring every tenant (collect_usage)",
                  f"{collected['seconds']:.1f} s for {collected['tenants']}: "
                  f"p50 {collected['p50_ms']:.0f} ms, p95 {collected['p95_ms']:.0f} ms a tenant")
    table.add_row("operator console, 30-day view",
                  f"p50 {page['p50_ms']:.0f} ms, p95 {page['p95_ms']:.0f} ms, "
                  f"{page['queries']} queries ({page['rows']:,} usage rows)")
    console.print(table)
    out = ROOT / "bench" / "results" / "usage.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "tenants": len(tenants), "api": api, "collect": collected, "console": page,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat()}, indent=2))
    console.print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
