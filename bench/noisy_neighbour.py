"""Noisy neighbour: another tenant's API latency while one tenant's API is saturated.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/noisy_neighbour.py [--rounds 3] [--requests 100] [--noise 8] \\
        [--tenant-rate 20/10s]

What runs: a database of its own (--database, created and filled on the first run and kept)
with two tenants, the region `noisy` and the municipality `quiet-town`, each with the demo
site. Two gunicorn servers
(gthread, --workers x --threads, dgbox.settings.base with DEBUG off, persistent connections,
the caches and counters on the real Redis of REDIS_URL), on loopback ports of their own:

- `tenant limit`: DGBOX_TENANT_API_RATES `region=--tenant-rate` (the noisy tenant's kind;
  the quiet one's own steady traffic stays out of the measurement);
- `no tenant limit`: DGBOX_TENANT_API_RATES empty (what dgbox did before the per-tenant
  limits).

Both have DGBOX_API_RATE far above the load: every client here is 127.0.0.1, and the noise
stands for many clients, each under its own limit.

Each round, for each server in turn (the order alternates from round to round): `quiet-town`'s
API (`/api/v2/pages/?type=cms.ServicePage&fields=...&limit=20`) is asked --requests times by
one client, one request after the other, first with nothing else running (idle), then while
--noise threads send the same request to `noisy` as fast as they can (saturating). Printed:
the median and p95 latency of `quiet-town` idle and saturated, their ratio, and what `noisy` got
(200s and 429s); the load average before and after (the machine is shared: read the figures
with it). Written to bench/results/noisy_neighbour.json. A measurement, never a test.
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn  # noqa: E402

API_PATH = ("/api/v2/pages/?type=cms.ServicePage&fields=summary,cost_kind,processing_days,"
            "channels&limit=20")
#: slug: (name, kind, parent). The limit under test is set for regions only, so that the
#: quiet tenant's own steady traffic never meets it: what is measured is the noise's effect.
TENANTS = {"noisy": ("Шумная область", "region", None),
           "quiet-town": ("Тихий город", "municipality", "noisy")}
QUIET = "quiet-town"


def prepare():
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import tenant_context

    from demo.site import populate
    from dgbox.celery import app
    from infra.s3 import ensure_bucket
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print("Migrating the benchmark database (first run only)...")
        call_command("migrate", interactive=False, verbosity=0)
    ensure_bucket()
    app.conf.task_always_eager = True
    for slug, (name, kind, parent) in TENANTS.items():
        if not Tenant.objects.filter(slug=slug).exists():
            launch_tenant(LaunchRequest(name=name, kind=kind, slug=slug, parent=parent,
                                        admin_email=f"admin@{slug}.example"))
            with tenant_context(Tenant.objects.get(slug=slug)):
                populate("ru")
    connection.set_schema_to_public()


class Server(Gunicorn):
    """gunicorn serving dgbox.wsgi on a loopback port of its own (bench/common.py), with the
    per-tenant API limit under test."""

    def __init__(self, args, name: str, tenant_rates: str):
        self.name = name
        env = dict(os.environ)
        env.update({
            "DJANGO_SETTINGS_MODULE": "dgbox.settings.base",
            "DGBOX_DEBUG": "0",
            "DGBOX_LOG_LEVEL": "WARNING",  # "Limit not enforced" lines are counted below
            "DGBOX_API_RATE": "100000000/minute",
            "DGBOX_TENANT_API_RATES": tenant_rates,
            "PYTHONPATH": str(ROOT),
        })
        state = Path(os.environ.get("DGBOX_STATE_DIR", ROOT / ".state"))
        state.mkdir(parents=True, exist_ok=True)
        log = state / f"noisy-neighbour-{'limited' if tenant_rates else 'unlimited'}.log"
        super().__init__(env, log, workers=args.workers, threads=args.threads)

    def uncounted(self) -> int:
        """Requests the limits let through uncounted (Redis did not answer in time)."""
        text = self.log.read_text(errors="replace")
        return text.count("Limit not enforced") + sum(
            int(n) for n in re.findall(r"\((\d+) similar not logged", text))


def get(conn, host):
    conn.request("GET", API_PATH, headers={"Host": host})
    response = conn.getresponse()
    response.read()
    return response.status


def quiet_latencies(port, requests, base_domain):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    host = f"{QUIET}.{base_domain}"
    get(conn, host)  # warm the connection
    times, statuses = [], Counter()
    for _ in range(requests):
        start = time.perf_counter()
        statuses[get(conn, host)] += 1
        times.append((time.perf_counter() - start) * 1000)
    conn.close()
    if set(statuses) != {200}:
        raise RuntimeError(f"the quiet tenant got {dict(statuses)}")
    return times


def saturate(port, threads, stop, statuses, base_domain):
    lock = threading.Lock()

    def run():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while not stop.is_set():
            try:
                status = get(conn, f"noisy.{base_domain}")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = "error"
            with lock:
                statuses[status] += 1
        conn.close()

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def summary(times):
    ordered = sorted(times)
    return {"p50_ms": statistics.median(ordered),
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))], "n": len(ordered)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=100,
                        help="requests to the quiet tenant per measurement")
    parser.add_argument("--noise", type=int, default=8, help="threads saturating `noisy`")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--tenant-rate", default="20/10s",
                        help="the per-tenant API limit of the `tenant limit` server: below what "
                             "the machine serves, or the noise never reaches it (a short "
                             "window, so that it bites within each measurement)")
    parser.add_argument("--database", default="dgbox_bench_noisy")
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        sys.exit("REDIS_URL is not set: run through `python -m infra.localservices run "
                 "--redis required -- ...`")

    from bench.common import database_url

    os.environ["DATABASE_URL"] = database_url(args.database, args.fresh)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dgbox.settings.base"
    os.environ["DGBOX_DEBUG"] = "0"
    os.environ["DGBOX_LOG_LEVEL"] = "ERROR"
    prepare()
    from django.conf import settings

    # A stop from outside (SIGTERM) still stops the servers (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))

    base_domain = settings.BASE_DOMAIN
    load_before = os.getloadavg()
    servers = [Server(args, "tenant limit", f"region={args.tenant_rate}"),
               Server(args, "no tenant limit", "")]
    results = {server.name: {"idle": [], "saturated": [], "noisy": Counter()}
               for server in servers}
    try:
        for server in servers:  # warm-up, untimed
            quiet_latencies(server.port, 20, base_domain)
        for round_no in range(args.rounds):
            order = servers if round_no % 2 == 0 else servers[::-1]
            for server in order:
                result = results[server.name]
                result["idle"] += quiet_latencies(server.port, args.requests, base_domain)
                stop, statuses = threading.Event(), Counter()
                workers = saturate(server.port, args.noise, stop, statuses, base_domain)
                time.sleep(1.0)  # let the noise reach its steady state
                result["saturated"] += quiet_latencies(server.port, args.requests,
                                                       base_domain)
                stop.set()
                for worker in workers:
                    worker.join(60)
                result["noisy"].update(statuses)
                time.sleep(1.0)
                print(f"round {round_no + 1}/{args.rounds} {server.name}: noisy got "
                      f"{dict(statuses)}")
    finally:
        for server in servers:
            server.stop()
    for server in servers:
        results[server.name]["uncounted_lines"] = server.uncounted()
    load_after = os.getloadavg()

    report = {}
    print(f"\nNoisy neighbour: quiet tenant's API latency, {args.rounds} rounds x "
          f"{args.requests} requests, {args.noise} noise threads, gunicorn "
          f"{args.workers}x{args.threads}")
    for name, result in results.items():
        idle, saturated = summary(result["idle"]), summary(result["saturated"])
        ratio = saturated["p50_ms"] / idle["p50_ms"]
        report[name] = {"idle": idle, "saturated": saturated, "p50_ratio": ratio,
                        "noisy_statuses": {str(k): v for k, v in result["noisy"].items()},
                        "limit_not_enforced_logged": result["uncounted_lines"]}
        print(f"  {name:16} idle p50 {idle['p50_ms']:.1f} ms p95 {idle['p95_ms']:.1f} ms | "
              f"saturated p50 {saturated['p50_ms']:.1f} ms p95 {saturated['p95_ms']:.1f} ms | "
              f"x{ratio:.2f} | noisy got {dict(result['noisy'])}, "
              f"{result['uncounted_lines']} uncounted")
    print(f"  load average before {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} "
          f"{load_after[2]:.2f}; {os.cpu_count()} CPUs")
    out = ROOT / "bench" / "results" / "noisy_neighbour.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "servers": report, "rounds": args.rounds, "requests": args.requests,
        "noise_threads": args.noise, "gunicorn": f"{args.workers}x{args.threads}",
        "tenant_rate": args.tenant_rate, "load_average_before": load_before,
        "load_average_after": load_after, "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "measured_at": datetime.datetime.now(datetime.UTC).isoformat()}, indent=2))
    print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
