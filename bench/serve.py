"""Serving a published page: many tenants behind dgbox's routing versus a plain single-site
Wagtail and stock django-tenants, in the same run.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/serve.py [--tenants 100] [--requests 1000] [--rounds 5] \\
        [--sides plain stock dgbox wagtail] [--cache-size N] [--before-tree DIR]

Four sides (five with --before-tree) serve the same demo service page
(/ru/services/building-permit/ by default), each in a process of its own (one Django process
cannot be both), through Django's WSGI handler with a WSGI environ, DEBUG off, persistent
database connections and the cache as in production (Redis when REDIS_URL is set):

  plain   a plain single-site Wagtail (bench/plain_site/settings.py: no django_tenants, plain
          PostgreSQL engine, no routing middleware) with the same demo content, in a database
          of its own (--plain-database), serving from dgbox's caches as a tenant does: the
          strict baseline, which differs from dgbox by multi-tenancy alone
  wagtail the same single site with dgbox's caches off (DGBOX_BENCH_PLAIN_CACHE=off: every
          entry computed on every request), i.e. served the way plain Wagtail serves a page,
          from the database (the route down the page tree, the specific page, the site,
          the content's queries; stock Wagtail's own code does the work): the baseline the
          serving goal was first set against (docs/benchmarks.md)
  stock   the same tenants routed by django-tenants' own TenantMainMiddleware, the library's
          class unmodified (bench/stock_site/settings.py): a domain query, two `SET
          search_path` and two ContentType cache clears per request
  dgbox   the same tenants and the same request sequence through tenants/middleware.py
          (--cache-size sets its DGBOX_TENANT_CACHE_SIZE, e.g. below --tenants to measure a
          process serving more tenants than its caches hold)
  before  optional: the dgbox side run from another source tree on the same database, e.g.
          the previous commit (`git archive HEAD~1 | tar -x -C /tmp/before`), for a before
          and after in the same run

Every side but "wagtail" (and "before", as its tree does) serves pages from the tenant cache
(cms/page_cache.py, tenants/tenant_cache.py): a warm page runs no SQL, and each tenant's
entries are renewed at its renewal, once per DGBOX_CONTENT_CACHE_SECONDS (3600 by default;
set it in the environment to change it for every side): one query on the public schema when
the tenant's content did not change (tenants/content_changes.py), and computed again once a
day. Those renewals, and the host rows' every DGBOX_TENANT_CACHE_SHARED_SECONDS, are where
many tenants cost more than one: plain Wagtail's one site renews once a period, 1,000
tenants a thousand times, and since a renewal is due by the clock, the ones that fell due
while a side waited for the others' turn in the round are paid in its own.

Requests rotate over every tenant in a shuffled order, so consecutive requests go to
different hosts and every host comes back only after all the others (the worst case for a
per-process cache smaller than the fleet). The benchmark first prepares both databases (kept
between runs: the first run launches one tenant and writes its demo content, about 15 s on a
busy 2-core machine, then copies that tenant's dumped schema for each other tenant with its
own host and name, a few seconds each; --prepare-only stops there), starts one long-lived
process per side,
warms each up (every host twice), then runs --rounds rounds; in each round every side serves
--requests requests, one side after the other, the order rotating from round to round so
that machine noise falls on all of them. It reports the median requests per second and wall
time per request, the serving process's CPU time per request (which other load on the
machine disturbs less), the tenant sides as a share of plain (median and same round), the
queries per request of each side (from CaptureQueriesContext over a separate sample) split
by kind, which is what explains the gap, and the load average before and after each round.
After the rounds each side serves every host once more, untimed, reading its PostgreSQL
backend's memory after each request (pg_backend_memory_contexts, and RssAnon from /proc): the
most its connection held and how many tenant schemas it had visited then.
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

SIDES = ["plain", "stock", "dgbox", "before", "wagtail"]
#: The sides of the plain single site (one host, database --plain-database).
SINGLE_SITE = ("plain", "wagtail")
SETTINGS = {"plain": "bench.plain_site.settings", "stock": "bench.stock_site.settings",
            "dgbox": "dgbox.settings.base", "before": "dgbox.settings.base",
            "wagtail": "bench.plain_site.settings"}
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


def side_env(side: str, urls: dict, args=None) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": SETTINGS[side],
        "DATABASE_URL": urls["plain" if side in SINGLE_SITE else "tenant"],
        "DGBOX_DEBUG": "0",
        "DGBOX_LOG_LEVEL": "ERROR",
        "PYTHONPATH": str(side_root(side, args)),
    })
    if side == "wagtail":
        env["DGBOX_BENCH_PLAIN_CACHE"] = "off"
    if side == "dgbox" and args is not None and args.cache_size:
        env["DGBOX_TENANT_CACHE_SIZE"] = str(args.cache_size)
    return env


def side_root(side: str, args) -> Path:
    """The source tree a side runs from: this one, or --before-tree for "before"."""
    if side == "before":
        return Path(args.before_tree).resolve()
    return ROOT


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


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
        root = side_root(side, args)
        self.proc = subprocess.Popen(
            [sys.executable, str(root / "bench" / "serve.py"), "--_worker",
             "dgbox" if side == "before" else side, "--tenants", str(args.tenants),
             "--path", args.path],
            env=side_env(side, urls, args), cwd=root, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True,
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
    parser.add_argument("--sides", nargs="+", choices=SIDES,
                        default=["plain", "stock", "dgbox", "wagtail"])
    parser.add_argument("--cache-size", type=int, default=0,
                        help="DGBOX_TENANT_CACHE_SIZE of the dgbox side (default: its own)")
    parser.add_argument("--before-tree", help="source tree the 'before' side runs from")
    parser.add_argument("--tenant-database", default="dgbox_bench_serve")
    parser.add_argument("--plain-database", default="dgbox_bench_plain")
    parser.add_argument("--prepare-only", action="store_true",
                        help="prepare both databases for --tenants and stop")
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
    if args.before_tree and "before" not in args.sides:
        args.sides.append("before")
    if "before" in args.sides and not args.before_tree:
        parser.error("the 'before' side needs --before-tree")
    urls = {"tenant": database_url(args.tenant_database),
            "plain": database_url(args.plain_database)}
    prepare("plain", args, urls, console)
    if set(args.sides) - set(SINGLE_SITE):
        prepare("dgbox", args, urls, console)
    if args.prepare_only:
        return 0

    workers = {}
    try:
        for side in args.sides:
            with console.status(f"Starting and warming up the {side} process..."):
                workers[side] = Worker(side, args, urls)
        ready = workers["plain"].ready
        routing = workers.get("dgbox", workers["plain"]).ready["ttl"]
        for side, worker in workers.items():
            if abs(worker.ready["bytes"] - ready["bytes"]) > 0.05 * ready["bytes"]:
                console.print(f"[yellow]Warning:[/] the {side} page has {worker.ready['bytes']} "
                              f"bytes, plain's {ready['bytes']}: not the same page?")
        console.print(f"Serving {args.path} ({ready['bytes']} bytes) from "
                      f"{args.tenants} tenants; cache: {ready['cache']}; "
                      f"dgbox routing caches: {routing}; "
                      f"{args.rounds} rounds x {args.requests} requests per side; "
                      f"load average {load_average()}")
        loads = [load_average()]

        rounds: dict[str, list[dict]] = {side: [] for side in args.sides}
        for r in range(args.rounds):
            order = args.sides[r % len(args.sides):] + args.sides[:r % len(args.sides)]
            line = []
            for side in order:
                result = workers[side].ask(run=args.requests, seed=r)
                rounds[side].append(result)
                line.append(f"{side} {result['rps']:.0f}")
            loads.append(load_average())
            console.print(f"  round {r + 1}: " + ", ".join(line) + f" req/s; load {loads[-1]}")
        queries = {side: workers[side].ask(queries=args.query_sample, seed=999)
                   for side in args.sides}
        with console.status("Reading each side's backend memory over one more rotation..."):
            memory = {side: workers[side].ask(memory=998, seed=998) for side in args.sides}
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
                         **queries[side], **memory[side]}
    plain = results["plain"]
    for side, r in results.items():
        # Same round, back to back: less exposed to load that drifts over the run.
        r["paired_share_of_plain"] = statistics.median(
            mine["rps"] / base["rps"] for mine, base in zip(rounds[side], rounds["plain"],
                                                            strict=True))
    table = Table(title=f"Serving {args.path}: {args.tenants} tenants vs plain Wagtail, "
                        f"median of {args.rounds} rounds x {args.requests} requests",
                  title_justify="left")
    wagtail = results.get("wagtail")
    columns = ["side", "req/s", "wall ms/req", "of plain", "paired", "CPU ms/req",
               "CPU of plain", "queries/req", "of which", "backend MB (schemas)"]
    if wagtail:
        columns[5:5] = ["of Wagtail", "paired W"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("side", "of which") else "right")
    for side, r in results.items():
        r["share_of_plain"] = r["rps_median"] / plain["rps_median"]
        r["cpu_share_of_plain"] = plain["cpu_ms_median"] / r["cpu_ms_median"]
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in r["queries_by_kind"].items()
                          if k != "page" and v)
        shares = [f"{r['share_of_plain']:.0%}", f"{r['paired_share_of_plain']:.0%}"]
        if wagtail:
            r["share_of_wagtail"] = r["rps_median"] / wagtail["rps_median"]
            r["paired_share_of_wagtail"] = statistics.median(
                mine["rps"] / base["rps"] for mine, base in zip(
                    rounds[side], rounds["wagtail"], strict=True))
            shares += [f"{r['share_of_wagtail']:.0%}", f"{r['paired_share_of_wagtail']:.0%}"]
        table.add_row(side, f"{r['rps_median']:.0f}", f"{1000 / r['rps_median']:.1f}",
                      *shares, f"{r['cpu_ms_median']:.2f}",
                      f"{r['cpu_share_of_plain']:.0%}",
                      f"{r['queries_per_request']:.2f}", kinds or "-",
                      f"{r['backend_contexts_mb']:.0f} ({r['schemas_at_peak']})")
    console.print(table)
    console.print("'of plain': median req/s relative to plain's (target >= 90% for dgbox); "
                  "'paired': median over rounds of req/s relative to plain's in the same "
                  "round; 'of Wagtail', 'paired W': the same against the wagtail side; "
                  "'CPU of plain': plain's CPU time per request divided by the side's; "
                  "'backend MB': the most the side's PostgreSQL connection held "
                  "(pg_backend_memory_contexts) over one more rotation of every host, and the "
                  "tenant schemas it had visited then.")
    out = ROOT / "bench" / "results" / "serve.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "path": args.path, "tenants": args.tenants, "requests": args.requests,
        "rounds": args.rounds, "cache": ready["cache"],
        "dgbox_routing_caches": routing,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "cache_size": args.cache_size or "default", "before_tree": args.before_tree,
        "load_average": loads,
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
    model = SLUG.format(0)
    if model not in have:
        # The first tenant the way any tenant is made: launched, then its demo content
        # written through Wagtail (about 15 s on a busy 2-core machine).
        print(f"Launching {model} and writing its demo content (once)...", flush=True)
        launch_tenant(LaunchRequest(name=_tenant_name(0), kind="region", slug=model,
                                    admin_email=f"admin@{model}.example"))
        with tenant_context(Tenant.objects.get(slug=model)):
            populate("ru")
    missing = [i for i in range(1, count) if SLUG.format(i) not in have]
    if not missing:
        return
    # The others are copies of the first: its schema dumped once, replayed under each new
    # schema's name with the tenant's own host and name (what a launch plus the demo command
    # would write, at a fraction of a second per tenant instead of 15 s).
    dump = _dump_tenant_schema(Tenant.objects.get(slug=model))
    with Progress(transient=True) as progress:
        task = progress.add_task(f"Copying {model} into {len(missing)} tenants",
                                 total=len(missing))
        for i in missing:
            _copy_tenant(dump, i)
            progress.advance(task)


def _dump_tenant_schema(model) -> str:
    """The model tenant's schema as SQL (DDL and rows), as a launch's template snapshot is
    taken (tenants/launch/template.py)."""
    from tenants.launch.template import _read_dump, _start_dump

    sql, _statements = _read_dump(_start_dump(model.schema_name), model.schema_name)
    return sql


def _copy_tenant(dump: str, i: int) -> None:
    """Tenant number `i`: its rows in the public schema (tenant, domain, reference prefix)
    and a copy of the model tenant's schema, in one transaction."""
    import re

    from django.conf import settings
    from django.db import connection, transaction

    from tenants import references
    from tenants.addresses import default_domain
    from tenants.launch.validation import slug_to_schema
    from tenants.models import Domain, Tenant

    model_slug, slug = SLUG.format(0), SLUG.format(i)
    schema = slug_to_schema(slug)
    replacements = {slug_to_schema(model_slug): schema, default_domain(model_slug):
                    default_domain(slug), _tenant_name(0): _tenant_name(i)}
    pattern = re.compile("|".join(rf"\b{re.escape(old)}\b" for old in replacements))
    sql = pattern.sub(lambda m: replacements[m.group(0)], dump)
    connection.set_schema_to_public()
    with transaction.atomic():
        tenant = Tenant(schema_name=schema, slug=slug, name=_tenant_name(i), kind="region",
                        status=Tenant.Status.ACTIVE,
                        default_language=settings.LANGUAGE_CODE, time_zone=settings.TIME_ZONE)
        references.save_with_prefix(tenant)
        Domain.objects.create(domain=default_domain(slug), tenant=tenant, is_primary=True)
        with connection.cursor() as cursor:
            cursor.execute(sql)


# --- Serving (in a process of the side's settings) ------------------------------------------


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
    import warnings

    import django

    # WhiteNoise warns that STATIC_ROOT was never collected; static files are not requested.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    handler = WSGIHandler()
    hosts = ([PLAIN_HOST] if side in SINGLE_SITE else
             [f"{SLUG.format(i)}.{settings.BASE_DOMAIN}" for i in range(tenants)])

    body = b""
    for host in hosts * 2:  # every host serves the page; warms every cache there is
        status, body = _get(handler, host, path)
        if status != 200 or (path == DEFAULT_PATH and PAGE_TITLE.encode() not in body):
            raise SystemExit(f"{side}: http://{host}{path} answered {status}; "
                             "is the database prepared?")
    if side == "stock" and "tenants.middleware" in sys.modules:
        raise SystemExit("stock: tenants.middleware was imported (it changes how content "
                         "types are cached): the stock side would not be stock.")
    _reply(side=side, bytes=len(body), cache=settings.CACHES["default"]["BACKEND"]
           .rsplit(".", 1)[-1], ttl=_routing_caches(settings) if side == "dgbox" else "-")

    for line in sys.stdin:
        command = json.loads(line)
        rng = random.Random(command["seed"])  # noqa: S311 - same host sequence for each side
        if "run" in command:
            sequence = _rotation(hosts, command["run"], rng)
            statuses: Counter = Counter()
            cpu, wall = time.process_time(), time.perf_counter()
            for host in sequence:
                statuses[_get(handler, host, path)[0]] += 1
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            _reply(rps=len(sequence) / wall, cpu_ms=1000 * cpu / len(sequence),
                   statuses={str(k): v for k, v in statuses.items()})
        elif "memory" in command:
            _reply(**_memory_over_rotation(handler, hosts, path, command["memory"]))
        elif "queries" in command:
            n = command["queries"]
            kinds: Counter = Counter()
            total = 0
            for host in _rotation(hosts, n, rng):
                with CaptureQueriesContext(connection) as captured:
                    _get(handler, host, path)
                total += len(captured)
                kinds.update(_kind(q["sql"]) for q in captured.captured_queries)
            _reply(queries_per_request=total / n,
                   queries_by_kind={k: kinds[k] / n for k in
                                    ("domain", "search_path", "content_type", "page")})
    return 0


def _backend_memory() -> tuple[float, float]:
    """The current connection's PostgreSQL backend: what its memory contexts hold and its
    private resident memory (RssAnon, from /proc: the server runs on this machine), in MB."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid(), "
                       "(SELECT sum(total_bytes) FROM pg_backend_memory_contexts)")
        pid, contexts = cursor.fetchone()
    anon = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            anon = int(line.split()[1]) / 1024
    return float(contexts) / 2**20, anon


def _memory_over_rotation(handler, hosts: list[str], path: str, seed: int) -> dict:
    """Serve every host once more (untimed) and read the backend's memory after each request:
    the most a connection held, and how many tenant schemas it had visited then (dgbox's
    wrapper counts them; 1 on the plain side)."""
    from django.db import connection

    peak = (0.0, 0.0, 0)
    for host in _rotation(hosts, len(hosts), random.Random(seed)):  # noqa: S311
        _get(handler, host, path)
        contexts, anon = _backend_memory()
        if contexts > peak[0]:
            peak = (contexts, anon, len(getattr(connection, "schemas_visited", ())) or 1)
    return {"backend_contexts_mb": round(peak[0], 1), "backend_rss_anon_mb": round(peak[1], 1),
            "schemas_at_peak": peak[2]}


def _rotation(hosts: list[str], n: int, rng: random.Random) -> list[str]:
    """n hosts: every host in a shuffled order, again and again (no host comes back before
    all the others have been served: the worst case for a cache smaller than the fleet)."""
    order = list(hosts)
    rng.shuffle(order)
    return [order[i % len(order)] for i in range(n)]


def _routing_caches(settings) -> str:
    """What the dgbox side's routing keeps (the names differ between versions)."""
    size = getattr(settings, "DGBOX_TENANT_CACHE_SIZE", None)
    ttl = getattr(settings, "DGBOX_TENANT_CACHE_SECONDS", 5)
    if size is None:
        return f"whole host map reloaded every {ttl} s, 256 schemas of content types"
    backend = settings.CACHES["routing"]["BACKEND"].rsplit(".", 1)[-1]
    return f"{size} tenants, change notices through {backend}"


def _reply(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
