"""Serving a published page: 100 tenants behind dgbox's routing versus a plain single-site
Wagtail, in the same run.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/serve.py [--tenants 100] [--requests 1000] [--rounds 5]

Three sides serve the same demo service page (/ru/services/building-permit/ by default),
each in a process of its own (one Django process cannot be both), through Django's WSGI
handler with a WSGI environ, DEBUG off, persistent database connections and the cache as in
production (Redis when REDIS_URL is set):

  plain  a plain single-site Wagtail (bench/plain_site/settings.py: no django_tenants, plain
         PostgreSQL engine, no routing middleware) with the same demo content, in a database
         of its own (--plain-database)
  stock  the tenant site routed the stock django-tenants way (a domain query, two
         `SET search_path` and two ContentType cache clears per request), each request to a
         random one of --tenants tenants
  dgbox  the same tenants and the same request sequence through tenants/middleware.py

The benchmark first prepares both databases (kept between runs: the first run launches the
tenants and writes their demo content, which takes a few minutes), starts one long-lived
process per side, warms each up, then runs --rounds rounds; in each round every side serves
--requests requests, one side after the other, the order rotating from round to round so
that machine noise falls on all of them. It reports the median requests per second (and the
serving process's CPU time per request, which other load on the machine disturbs less), the
tenant sides as a share of plain, and the queries per request of each side (from
CaptureQueriesContext over a separate sample) split by kind, which is what explains the gap.
Figures are printed and written to bench/results/serve.json. It is a measurement, never a
test.
"""

import argparse
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIDES = ["plain", "stock", "dgbox"]
SETTINGS = {"plain": "bench.plain_site.settings", "stock": "dgbox.settings.base",
            "dgbox": "dgbox.settings.base"}
SLUG = "serve-{:03d}"
PLAIN_HOST = "localhost"
DEFAULT_PATH = "/ru/services/building-permit/"
PAGE_TITLE = "Разрешение на строительство"  # title of the default page, checked on every side


# --- Orchestrator -------------------------------------------------------------------------


def database_url(name: str) -> str:
    """The server from DATABASE_URL (or the one infra.localservices finds), database `name`."""
    from infra.localservices import ensure_database, ensure_postgres

    base = os.environ.get("DATABASE_URL") or ensure_postgres(name)
    url = urlunsplit(urlsplit(base)._replace(path="/" + name))
    ensure_database(url)
    return url


def side_env(side: str, urls: dict) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": SETTINGS[side],
        "DATABASE_URL": urls["plain" if side == "plain" else "tenant"],
        "DGBOX_DEBUG": "0",
        "DGBOX_LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(ROOT),
    })
    return env


def prepare(side: str, args, urls: dict, console) -> None:
    console.print(f"Preparing the {side} database...")
    subprocess.run(
        [sys.executable, __file__, "--_prepare", side, "--tenants", str(args.tenants)],
        env=side_env(side, urls), check=True, cwd=ROOT,
    )


class Worker:
    """A long-lived serving process, driven one JSON line at a time."""

    def __init__(self, side: str, args, urls: dict):
        self.side = side
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--_worker", side, "--tenants", str(args.tenants),
             "--path", args.path],
            env=side_env(side, urls), cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self._read()

    def ask(self, **command) -> dict:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"The {self.side} process exited (code {self.proc.wait()}); "
                               "see the error above.")
        return json.loads(line)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(30)


def main():
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100, help="tenants served (random host)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per side per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--path", default=DEFAULT_PATH)
    parser.add_argument("--query-sample", type=int, default=200,
                        help="requests per side whose queries are counted (not timed)")
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=SIDES)
    parser.add_argument("--tenant-database", default="dgbox_bench_serve")
    parser.add_argument("--plain-database", default="dgbox_bench_plain")
    parser.add_argument("--_prepare", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--_worker", choices=SIDES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._prepare:
        return prepare_side(args._prepare, args.tenants)
    if args._worker:
        return serve_side(args._worker, args.tenants, args.path)

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    if "plain" not in args.sides:
        parser.error("plain is the baseline: keep it in --sides")
    urls = {"tenant": database_url(args.tenant_database),
            "plain": database_url(args.plain_database)}
    prepare("plain", args, urls, console)
    if set(args.sides) - {"plain"}:
        prepare("dgbox", args, urls, console)

    workers = {}
    try:
        for side in args.sides:
            with console.status(f"Starting and warming up the {side} process..."):
                workers[side] = Worker(side, args, urls)
        ready = workers["plain"].ready
        for side, worker in workers.items():
            if abs(worker.ready["bytes"] - ready["bytes"]) > 0.05 * ready["bytes"]:
                console.print(f"[yellow]Warning:[/] the {side} page has {worker.ready['bytes']} "
                              f"bytes, plain's {ready['bytes']}: not the same page?")
        console.print(f"Serving {args.path} ({ready['bytes']} bytes) from "
                      f"{args.tenants} tenants; cache: {ready['cache']}; "
                      f"host cache TTL: {workers.get('dgbox', workers['plain']).ready['ttl']}; "
                      f"{args.rounds} rounds x {args.requests} requests per side")

        rounds: dict[str, list[dict]] = {side: [] for side in args.sides}
        for r in range(args.rounds):
            order = args.sides[r % len(args.sides):] + args.sides[:r % len(args.sides)]
            line = []
            for side in order:
                result = workers[side].ask(run=args.requests, seed=r)
                rounds[side].append(result)
                line.append(f"{side} {result['rps']:.0f}")
            console.print(f"  round {r + 1}: " + ", ".join(line) + " req/s")
        queries = {side: workers[side].ask(queries=args.query_sample, seed=999)
                   for side in args.sides}
    finally:
        for worker in workers.values():
            worker.close()

    results = {}
    for side in args.sides:
        rps = [r["rps"] for r in rounds[side]]
        cpu = [r["cpu_ms"] for r in rounds[side]]
        results[side] = {"rps_median": statistics.median(rps), "rps_rounds": rps,
                         "cpu_ms_median": statistics.median(cpu), "cpu_ms_rounds": cpu,
                         "statuses": dict(sum((Counter(r["statuses"]) for r in rounds[side]),
                                              Counter())),
                         **queries[side]}
    plain = results["plain"]
    for side, r in results.items():
        # Same round, back to back: less exposed to load that drifts over the run.
        r["paired_share_of_plain"] = statistics.median(
            mine["rps"] / base["rps"] for mine, base in zip(rounds[side], rounds["plain"],
                                                            strict=True))
    table = Table(title=f"Serving {args.path}: {args.tenants} tenants vs plain Wagtail, "
                        f"median of {args.rounds} rounds x {args.requests} requests",
                  title_justify="left")
    for column in ("side", "req/s", "of plain", "paired", "CPU ms/req", "CPU of plain",
                   "queries/req", "of which"):
        table.add_column(column, justify="left" if column in ("side", "of which") else "right")
    for side, r in results.items():
        r["share_of_plain"] = r["rps_median"] / plain["rps_median"]
        r["cpu_share_of_plain"] = plain["cpu_ms_median"] / r["cpu_ms_median"]
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in r["queries_by_kind"].items()
                          if k != "page" and v)
        table.add_row(side, f"{r['rps_median']:.0f}", f"{r['share_of_plain']:.0%}",
                      f"{r['paired_share_of_plain']:.0%}", f"{r['cpu_ms_median']:.2f}",
                      f"{r['cpu_share_of_plain']:.0%}",
                      f"{r['queries_per_request']:.2f}", kinds or "-")
    console.print(table)
    console.print("'of plain': median req/s relative to plain's (target >= 90% for dgbox); "
                  "'paired': median over rounds of req/s relative to plain's in the same "
                  "round; 'CPU of plain': plain's CPU time per request divided by the side's.")
    out = ROOT / "bench" / "results" / "serve.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "path": args.path, "tenants": args.tenants, "requests": args.requests,
        "rounds": args.rounds, "cache": ready["cache"],
        "host_cache_ttl": workers.get("dgbox", workers["plain"]).ready["ttl"],
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "results": results,
    }, indent=2, ensure_ascii=False))
    console.print(f"Written to {out.relative_to(ROOT)}")
    return 0


# --- Preparing the databases (in a process of the side's settings) ----------------------------


def prepare_side(side: str, tenants: int) -> int:
    import django

    django.setup()
    from demo.site import populate

    if side == "plain":
        _prepare_plain(populate)
    else:
        _prepare_tenants(tenants, populate)
    return 0


def _prepare_plain(populate):
    from django.core.management import call_command
    from django.core.management.commands.migrate import Command as DjangoMigrate
    from django.db import transaction

    from cms.models import HomePage
    from cms.provisioning import create_site, scrub_template

    # Django's own migrate: the `tenants` app's one also builds tenant template schemas.
    call_command(DjangoMigrate(), interactive=False, verbosity=0)
    if HomePage.objects.exists():
        return
    with transaction.atomic():
        # What a tenant launch does for its schema, here for the only site there is.
        scrub_template(schema_name="public")
        create_site(tenant=SimpleNamespace(name=_tenant_name(0), default_language="ru"),
                    options={"domain": PLAIN_HOST})
        populate("ru")


def _tenant_name(i: int) -> str:
    return f"Бенч-область {i:03d}"


def _prepare_tenants(count: int, populate):
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import tenant_context
    from rich.progress import Progress

    from dgbox.celery import app
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print("Migrating the tenant database and building the template (once)...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
    # Spare-pool top-ups after each launch run here, not on some worker of the shared Redis.
    app.conf.task_always_eager = True
    have = set(Tenant.objects.filter(slug__startswith="serve-").values_list("slug", flat=True))
    with Progress(transient=True) as progress:
        task = progress.add_task("Launching tenants and writing their demo content",
                                 total=count)
        for i in range(count):
            slug = SLUG.format(i)
            if slug not in have:
                launch_tenant(LaunchRequest(name=_tenant_name(i), kind="region", slug=slug,
                                            admin_email=f"admin@{slug}.example"))
            tenant = Tenant.objects.get(slug=slug)
            with tenant_context(tenant):
                populate("ru")
            progress.advance(task)


# --- Serving (in a process of the side's settings) ------------------------------------------


def _stock_middleware():
    """dgbox's routing as it was with stock django-tenants: the domain looked up on every
    request, the connection switched to public and back every time. (It does not import
    tenants.middleware, so this process keeps Django's own ContentType cache.)"""
    from django.core.exceptions import DisallowedHost
    from django.db import connection
    from django.shortcuts import render
    from django_tenants.middleware.main import TenantMainMiddleware
    from django_tenants.utils import get_public_schema_name

    from tenants.models import Domain

    class StockTenantMiddleware(TenantMainMiddleware):
        def process_request(self, request):
            connection.set_schema_to_public()
            try:
                hostname = self.hostname_from_request(request)
            except DisallowedHost:
                hostname = None
            try:
                tenant = self.get_tenant(Domain, hostname)
            except Domain.DoesNotExist:
                return render(request, "tenants/unknown_host.html", {"hostname": hostname},
                              status=404)
            tenant.domain_url = hostname
            request.tenant = tenant
            if tenant.schema_name != get_public_schema_name() and not tenant.is_serving:
                return render(request, "tenants/maintenance.html", {"tenant": tenant},
                              status=503)  # (not reached here: every bench tenant is active)
            connection.set_tenant(tenant)
            self.setup_url_routing(request)
            return None

    return StockTenantMiddleware


StockTenantMiddleware = None  # set in the stock process, found by Django as __main__.<name>


def _get(handler, host: str, path: str) -> tuple[int, bytes]:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": host, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host, "REMOTE_ADDR": "127.0.0.1", "HTTP_ACCEPT": "text/html",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    status = []
    result = handler(environ, lambda s, headers, exc_info=None: status.append(s))
    try:
        body = b"".join(result)
    finally:
        result.close()  # sends request_finished, as a WSGI server does
    return int(status[0][:3]), body


def _kind(sql: str) -> str:
    sql = sql.lower()
    if sql.startswith("set search_path"):
        return "search_path"
    if '"tenants_domain"' in sql:
        return "domain"
    if '"django_content_type"' in sql:
        return "content_type"
    return "page"


def serve_side(side: str, tenants: int, path: str) -> int:
    global StockTenantMiddleware

    import warnings

    import django

    # WhiteNoise warns that STATIC_ROOT was never collected; static files are not requested.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if side == "stock":
        StockTenantMiddleware = _stock_middleware()
        dgbox_routing = "tenants.middleware.TenantMiddleware"
        settings.MIDDLEWARE = ["__main__.StockTenantMiddleware" if m == dgbox_routing else m
                               for m in settings.MIDDLEWARE]
    handler = WSGIHandler()
    hosts = ([PLAIN_HOST] if side == "plain" else
             [f"{SLUG.format(i)}.{settings.BASE_DOMAIN}" for i in range(tenants)])

    body = b""
    for host in hosts * 3:  # every host serves the page; warms every cache there is
        status, body = _get(handler, host, path)
        if status != 200 or (path == DEFAULT_PATH and PAGE_TITLE.encode() not in body):
            raise SystemExit(f"{side}: http://{host}{path} answered {status}; "
                             "is the database prepared?")
    ttl = getattr(settings, "DGBOX_TENANT_CACHE_SECONDS", 5) if side == "dgbox" else None
    _reply(side=side, bytes=len(body), cache=settings.CACHES["default"]["BACKEND"]
           .rsplit(".", 1)[-1], ttl=f"{ttl} s" if ttl is not None else "-")

    for line in sys.stdin:
        command = json.loads(line)
        rng = random.Random(command["seed"])  # noqa: S311 - same host sequence for each side
        if "run" in command:
            sequence = [rng.choice(hosts) for _ in range(command["run"])]
            statuses: Counter = Counter()
            cpu, wall = time.process_time(), time.perf_counter()
            for host in sequence:
                statuses[_get(handler, host, path)[0]] += 1
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            _reply(rps=len(sequence) / wall, cpu_ms=1000 * cpu / len(sequence),
                   statuses={str(k): v for k, v in statuses.items()})
        elif "queries" in command:
            n = command["queries"]
            kinds: Counter = Counter()
            total = 0
            for _ in range(n):
                with CaptureQueriesContext(connection) as captured:
                    _get(handler, rng.choice(hosts), path)
                total += len(captured)
                kinds.update(_kind(q["sql"]) for q in captured.captured_queries)
            _reply(queries_per_request=total / n,
                   queries_by_kind={k: kinds[k] / n for k in
                                    ("domain", "search_path", "content_type", "page")})
    return 0


def _reply(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
