"""Citizens on 100 tenants at once: a realistic mix of pages and journeys over HTTP, driven by
Locust (as a library, headless) against gunicorn with the production settings, at 1 and at 16
concurrent users.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/load.py [--tenants 100] [--seconds 60] [--users 1,16] [--rounds 1]

What runs: the database and tenants of bench/submit.py (--database, default
dgbox_bench_submit, shared with it: the first run launches --tenants tenants with their demo
site and online services, which takes many minutes; later runs only clear the previous
run's cases, drafts and uploads, exactly as bench/submit.py does, by running its `prepare`
step). gunicorn serves dgbox.settings.production (DEBUG off, the Redis cache, static files
collected as the image collects them and served by WhiteNoise, a throwaway secret key, plain
HTTP on a loopback port: DGBOX_SSL_REDIRECT=0), gthread --workers x --threads. Celery is not
eager: receipts and tracking codes are published to the real Redis broker on a queue of the
benchmark's own that nothing consumes (deleted afterwards); uploads go to the S3 bucket
--bucket under each tenant's prefix.

Each simulated user repeats visits, each visit a new citizen on a random one of the tenants
(new connection, no cookies, a loopback source address of its own: 127.x.y.z, so that the
per-client limits count each citizen separately as they would in production), without think
time unless --think is given (so N users are up to N requests in flight). A visit is one of
(weights in brackets):

  browse (5)  home /ru/, the service catalogue /ru/services/, a service page (one of the demo
              site's services), a search (/ru/search/?q=..., one of a few words)
  apply (2)   the building-permit form (GET, CSRF token), the answers with a --pdf-kb PDF
              (POST, 302 to check), check your answers (GET, draft token), submit (POST with
              CSRF, 302), the confirmation page and its reference
  track (2)   with a reference an earlier apply visit received (an apply visit when there is
              none yet): the track page, the reference (POST, 302), the code page, the code
              (POST, 302), the status page. The code is what the applicant receives by e-mail:
              the client reads it from the tenant's pending `tracking_code` message in the
              database (not timed; nothing consumes the broker, so it is never sent)

Every request is a row of its own (redirects are not followed; each step checks the status
and where it leads). Errors: every response outside 2xx/3xx, every failed connection, and
every step that did not lead where it should (no CSRF token, no reference...); the script
exits 1 if there is any. Limits: the open API's DGBOX_API_RATE is set to 1000000/minute
(the mix does not call the API; set so that a one-address benchmark could never meet it);
the tracking limits (10 code requests and tries per client address and tenant per hour,
services/applications/tracking.py) are constants, met by giving each citizen its own
address, never raised. A level runs --seconds (timed), after an untimed warm-up (every
tenant's home and catalogue, then --warmup seconds of the mix at the highest level); with
--rounds > 1 the levels alternate, their order turning each round, and the figures add up.

Printed per level and page: requests, per second, p50 and p95 latency (Locust's: exact
under 100 ms, rounded to 10 ms under 1 s, to 100 ms above), errors; visits completed;
gunicorn's CPU per request; the load average before and after, CPU count and the gunicorn
worker configuration. Figures are written to bench/results/load.json; gunicorn's log goes to
.state/load-gunicorn.log (DGBOX_STATE_DIR). A measurement, never a test.
"""

# Locust patches the standard library for gevent when imported: before anything else.
from gevent import monkey  # isort: skip

monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from http.cookiejar import DefaultCookiePolicy  # noqa: E402
from http.cookies import SimpleCookie  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import gevent  # noqa: E402
from locust import HttpUser, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.event import Events  # noqa: E402
from locust.stats import StatsEntry  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn, database_url  # noqa: E402
from bench.submit import ANSWERS, CSRF_RE, DRAFT_RE, REFERENCE_RE, make_pdf  # noqa: E402
from bench.submit import django_step as submit_step  # noqa: E402

QUEUE = "dgbox-bench-load"
APPLY = "building-permit"  # demo/forms.py: 4 questions + contact details + a PDF
SERVICES = ["birth-registration", "child-benefit", "kindergarten-place", "school-enrolment",
            "residence-registration", "family-certificate", "housing-subsidy",
            "building-permit", "land-plot-scheme", "street-trading"]  # demo/site.py
SEARCHES = ["справка", "разрешение", "школа", "паспорт", "налог"]
PAGES = ["home", "catalogue", "service page", "search",
         "apply: form", "apply: answers", "apply: check", "apply: submit", "apply: done",
         "track: start", "track: reference", "track: code page", "track: code",
         "track: status"]
CODE_RE = re.compile(r"(?<![-\d])(\d{6})(?![-\d])")  # the 6 digits, not the reference's
API_RATE = "1000000/minute"
RNG = random.Random()  # noqa: S311 - which tenant, page or word to visit; not a secret


class VisitFailed(Exception):
    """A step that did not lead where it should (already counted as an error)."""


class SourceAdapter(HTTPAdapter):
    """Connections from one loopback source address: a citizen of their own."""

    def __init__(self, source: str):
        self.source = source
        super().__init__(pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class Shared:
    """What the users of a run share: the hosts, the references received, the codes."""

    hosts: list[str] = []
    schemas: dict[str, str] = {}
    references: list[tuple[str, str]] = []
    visits: dict[str, int] = {}
    think = 0.0
    pdf_kb = 20
    database_url = ""
    addresses = itertools.count(RNG.randrange(1 << 20))

    @classmethod
    def address(cls) -> str:
        n = next(cls.addresses) % ((1 << 24) - 2) + 1  # 127.0.0.1 .. 127.255.255.254
        return f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"

    @classmethod
    def code_for(cls, host: str, reference: str) -> str | None:
        import psycopg

        schema = cls.schemas[host]
        # A connection of its own each time: a user stopped at the end of a level mid-query
        # must not leave a shared connection busy.
        database = psycopg.connect(cls.database_url, autocommit=True)
        try:
            row = database.execute(
                f'SELECT body FROM "{schema}".notifications_message WHERE topic = %s AND '
                "key = 'tracking_code' ORDER BY id DESC LIMIT 1", [reference]).fetchone()
        finally:
            database.close()
        match = CODE_RE.search(row[0]) if row else None
        return match.group(1) if match else None


class Citizen(HttpUser):
    """A simulated user: visit after visit, each a new citizen on a random tenant."""

    host = "http://127.0.0.1"

    def wait_time(self):
        return Shared.think

    def _new_citizen(self) -> str:
        old = self.client.adapters.get("http://")
        if old is not None:
            old.close()
        self.client.mount("http://", SourceAdapter(Shared.address()))
        self.client.cookies.clear()
        self.client.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.jar: dict[str, str] = {}  # by hand: production marks cookies Secure (no TLS here)
        return RNG.choice(Shared.hosts)

    def _request(self, name, host, method, path, expect=200, location=None, **kwargs):
        headers = {"Host": host, "Accept": "text/html", "Accept-Language": "ru",
                   "User-Agent": "dgbox-bench-load"}
        if self.jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.jar.items())
        with self.client.request(method, path, name=name, headers=headers,
                                 allow_redirects=False, catch_response=True, **kwargs) as r:
            for header in r.raw.headers.getlist("Set-Cookie") if r.raw is not None else []:
                cookie = SimpleCookie()
                cookie.load(header)
                for key, morsel in cookie.items():
                    if morsel["max-age"] == "0":
                        self.jar.pop(key, None)
                    else:
                        self.jar[key] = morsel.value
            if r.status_code != expect:
                r.failure(f"HTTP {r.status_code} (expected {expect})")
                raise VisitFailed(name)
            if location and not (r.headers.get("Location") or "").endswith(location):
                r.failure(f"redirected to {r.headers.get('Location')!r}, not {location}")
                raise VisitFailed(name)
            r.success()
            return r

    def _visited(self, kind):
        Shared.visits[kind] = Shared.visits.get(kind, 0) + 1

    @task(5)
    def browse(self):
        host = self._new_citizen()
        try:
            self._request("home", host, "GET", "/ru/")
            self._request("catalogue", host, "GET", "/ru/services/")
            self._request("service page", host, "GET",
                          f"/ru/services/{RNG.choice(SERVICES)}/")
            self._request("search", host, "GET", "/ru/search/",
                          params={"q": RNG.choice(SEARCHES)})
        except VisitFailed:
            return
        self._visited("browse")

    @task(2)
    def apply(self):
        host = self._new_citizen()
        base = f"/ru/apply/{APPLY}/"
        try:
            r = self._request("apply: form", host, "GET", base)
            token = self._token(r, "apply: form")
            pdf = make_pdf(Shared.pdf_kb, uuid.uuid4().hex)
            self._request("apply: answers", host, "POST", base, expect=302,
                          location=f"{base}check/",
                          data={"csrfmiddlewaretoken": token, **ANSWERS},
                          files={"project": ("Проект дома.pdf", pdf, "application/pdf")})
            r = self._request("apply: check", host, "GET", f"{base}check/")
            draft = self._found(r, DRAFT_RE, "the draft token", "apply: check")
            token = self._token(r, "apply: check")
            self._request("apply: submit", host, "POST", f"{base}check/", expect=302,
                          location=f"{base}done/",
                          data={"csrfmiddlewaretoken": token, "draft": draft})
            r = self._request("apply: done", host, "GET", f"{base}done/")
            reference = self._found(r, REFERENCE_RE, "the reference", "apply: done")
        except VisitFailed:
            return
        Shared.references.append((host, reference))
        self._visited("apply")

    @task(2)
    def track(self):
        if not Shared.references:
            return self.apply()
        host, reference = Shared.references.pop(RNG.randrange(len(Shared.references)))
        self._new_citizen()
        try:
            r = self._request("track: start", host, "GET", "/ru/track/")
            self._request("track: reference", host, "POST", "/ru/track/", expect=302,
                          location="/ru/track/code/",
                          data={"csrfmiddlewaretoken": self._token(r, "track: start"),
                                "reference": reference})
            r = self._request("track: code page", host, "GET", "/ru/track/code/")
            code = Shared.code_for(host, reference)
            if code is None:
                self._error("track: code", f"no tracking code message for {reference}")
                return None
            self._request("track: code", host, "POST", "/ru/track/code/", expect=302,
                          location="/ru/track/status/",
                          data={"csrfmiddlewaretoken": self._token(r, "track: code page"),
                                "code": code})
            r = self._request("track: status", host, "GET", "/ru/track/status/")
            if reference.encode() not in r.content:
                self._error("track: status", "the status page does not name the reference")
                return None
        except VisitFailed:
            return None
        self._visited("track")
        return None

    def _token(self, r, name):
        return self._found(r, CSRF_RE, "CSRF token", name)

    def _found(self, r, pattern, what, name):
        found = pattern.search(r.content)
        if not found:
            self._error(name, f"no {what} on the page")
            raise VisitFailed(what)
        return found.group(1).decode()

    def _error(self, name, message):
        """A step that answered 2xx/3xx but not what the journey needs: an error too."""
        self.environment.events.request.fire(
            request_type="CHECK", name=f"{name} (check)", response_time=0, response_length=0,
            response=None, context={}, exception=VisitFailed(message))


# --- Running a level ------------------------------------------------------------------------


def run_level(port: int, users: int, seconds: float, server: Gunicorn | None) -> dict:
    """`users` users for `seconds`; the stats of every page, the visits, gunicorn's CPU."""
    Citizen.host = f"http://127.0.0.1:{port}"
    env = Environment(user_classes=[Citizen], events=Events())
    runner = env.create_local_runner()
    Shared.visits = {}
    cpu_before = gunicorn_cpu(server)
    load_before = os.getloadavg()
    started = time.perf_counter()
    runner.start(users, spawn_rate=100)
    gevent.sleep(seconds)
    runner.stop()
    window = time.perf_counter() - started
    cpu = gunicorn_cpu(server) - cpu_before
    runner.quit()
    entries = {}
    for (name, _method), entry in env.stats.entries.items():
        if name in entries:
            entries[name].extend(entry)
        else:
            entries[name] = entry
    exceptions = [{"count": e["count"], "msg": e["msg"]} for e in runner.exceptions.values()]
    return {"users": users, "window": window, "entries": entries,
            "errors": dict(env.stats.errors), "exceptions": exceptions,
            "visits": dict(Shared.visits), "gunicorn_cpu": cpu,
            "load_before": load_before, "load_after": os.getloadavg()}


def gunicorn_cpu(server) -> float:
    import psutil

    total = 0.0
    for pid in server.pids() if server else []:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def merge(runs: list[dict]) -> dict:
    """The rounds of one level as one run (windows, requests and latencies added up)."""
    entries: dict[str, StatsEntry] = {}
    for run in runs:
        for name, entry in run["entries"].items():
            if name in entries:
                entries[name].extend(entry)
            else:
                entries[name] = entry
    errors: dict = {}
    visits: dict[str, int] = {}
    exceptions = [e for run in runs for e in run["exceptions"]]
    for run in runs:
        for key, error in run["errors"].items():
            errors[key] = error
        for kind, n in run["visits"].items():
            visits[kind] = visits.get(kind, 0) + n
    return {"users": runs[0]["users"], "rounds": len(runs),
            "window": sum(r["window"] for r in runs), "entries": entries, "errors": errors,
            "exceptions": exceptions,
            "visits": visits, "gunicorn_cpu": sum(r["gunicorn_cpu"] for r in runs),
            "load_before": runs[0]["load_before"], "load_after": runs[-1]["load_after"]}


def summary(run: dict) -> dict:
    rows = []
    total_requests = total_errors = 0
    for name in PAGES + sorted(set(run["entries"]) - set(PAGES)):
        entry = run["entries"].get(name)
        if entry is None:
            continue
        total_requests += entry.num_requests
        total_errors += entry.num_failures
        ok = entry.num_requests - entry.num_failures
        rows.append({"page": name, "requests": entry.num_requests,
                     "per_second": entry.num_requests / run["window"],
                     "p50_ms": entry.get_response_time_percentile(0.5) if ok else None,
                     "p95_ms": entry.get_response_time_percentile(0.95) if ok else None,
                     "errors": entry.num_failures})
    crashed = sum(e["count"] for e in run["exceptions"])  # a visit that raised: an error
    return {"users": run["users"], "rounds": run.get("rounds", 1), "seconds": run["window"],
            "pages": rows, "requests": total_requests, "errors": total_errors + crashed,
            "visits_crashed": crashed,
            "per_second": total_requests / run["window"], "visits": run["visits"],
            "gunicorn_cpu_ms_per_request": 1000 * run["gunicorn_cpu"] / max(1, total_requests),
            "error_samples": [f"{e.name}: {e.error} (x{e.occurrences})"
                              for e in list(run["errors"].values())[:5]]
            + [f"exception in a visit: {e['msg']} (x{e['count']})"
               for e in run["exceptions"][:3]],
            "load_before": run["load_before"], "load_after": run["load_after"]}


def warm_up(port: int, hosts: list[str], seconds: float, users: int) -> dict:
    """Every tenant's home and catalogue (so that per-process caches are not cold), then the
    mix for `seconds` (also seeds references for tracking). Untimed; errors are counted."""
    Citizen.host = f"http://127.0.0.1:{port}"
    sweeper = Citizen(Environment(user_classes=[Citizen], events=Events()))
    failures = 0
    for host in hosts:
        for path in ("/ru/", "/ru/services/"):
            sweeper._new_citizen()
            try:
                sweeper._request("warm-up", host, "GET", path)
            except VisitFailed:
                failures += 1
    run = run_level(port, users, seconds, None)
    return {"sweep_errors": failures,
            "errors": sum(e.num_failures for e in run["entries"].values())
            + sum(e["count"] for e in run["exceptions"]),
            "samples": [f"{e.name}: {e.error}" for e in list(run["errors"].values())[:3]]
            + [e["msg"] for e in run["exceptions"][:3]]}


# --- Orchestration --------------------------------------------------------------------------


def production_env(args, url: str, static_root: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.production",
        "DGBOX_SECRET_KEY": secrets.token_urlsafe(64),
        "DGBOX_SSL_REDIRECT": "0",
        "DGBOX_SITE_SCHEME": "http",
        "DATABASE_URL": url,
        "DGBOX_STATIC_ROOT": static_root,
        "DGBOX_LOG_LEVEL": "ERROR",
        "DGBOX_CELERY_QUEUE": QUEUE,
        "DGBOX_S3_BUCKET": args.bucket,
        "DGBOX_API_RATE": API_RATE,
        "PYTHONPATH": str(ROOT),
    })
    return env


def collect_static() -> str:
    """Static files collected as the image does (bench/page_weight.py; reused while no source
    changes), in a process of its own."""
    out = subprocess.run([sys.executable, __file__, "--_collect"], check=True, cwd=ROOT,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.base",
                              "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def _collect() -> int:
    import django

    django.setup()
    from django.conf import settings

    from bench.page_weight import collect_static as collect

    print(collect(settings.STATE_DIR / "bench-static"))
    return 0


def schemas_of(database, hosts) -> dict[str, str]:
    rows = database.execute(
        "SELECT d.domain, t.schema_name FROM tenants_domain d JOIN tenants_tenant t "
        "ON t.id = d.tenant_id WHERE d.domain = ANY(%s)", [hosts]).fetchall()
    return dict(rows)


def main() -> int:  # one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60, help="timed seconds per level "
                                                                  "and round")
    parser.add_argument("--users", default="1,16", help="concurrent users of each level")
    parser.add_argument("--rounds", type=int, default=1, help="rounds (levels interleaved)")
    parser.add_argument("--warmup", type=float, default=10, help="untimed seconds of the mix "
                                                                 "before the first level")
    parser.add_argument("--think", type=float, default=0, help="seconds a user waits between "
                                                               "visits")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--pdf-kb", type=int, default=20, help="size of the uploaded PDF")
    parser.add_argument("--database", default="dgbox_bench_submit",
                        help="shared with bench/submit.py")
    parser.add_argument("--bucket", default="dgbox-bench-submit")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the benchmark database first (launches every tenant again)")
    parser.add_argument("--_collect", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._collect:
        return _collect()
    levels = [int(n) for n in args.users.split(",")]

    import psycopg
    import redis
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    if not os.environ.get("REDIS_URL") or not os.environ.get("DGBOX_S3_ENDPOINT_URL"):
        parser.error("needs REDIS_URL and an S3 endpoint: run it as `python -m "
                     "infra.localservices run --redis required -- .venv/bin/python "
                     "bench/load.py`")
    begun = time.perf_counter()
    load_start = os.getloadavg()
    url = database_url(args.database, args.fresh)
    console.print(f"Preparing {args.database} with bench/submit.py's prepare step "
                  f"({args.tenants} tenants; the first run launches them)...")
    prepared = submit_step(SimpleNamespace(tenants=args.tenants, pdf_kb=args.pdf_kb,
                                           submit_drafts=1, bucket=args.bucket), url,
                           "prepare")
    static_root = collect_static()
    Shared.hosts = prepared["hosts"][:args.tenants]
    Shared.pdf_kb, Shared.think = args.pdf_kb, args.think
    Shared.database_url = url
    with psycopg.connect(url, autocommit=True) as database:
        Shared.schemas = schemas_of(database, Shared.hosts)
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])

    def queue_keys():
        return [QUEUE] + [k.decode() for k in broker.scan_iter(f"{QUEUE}\x06\x16*")]

    broker.delete(*queue_keys())
    logs = Path(os.environ.get("DGBOX_STATE_DIR") or ROOT / ".state")
    logs.mkdir(parents=True, exist_ok=True)
    console.print(f"Prepared in {time.perf_counter() - begun:.0f} s (cleared "
                  f"{prepared['cleared_cases']} cases of the previous run)")
    server = Gunicorn(production_env(args, url, static_root), logs / "load-gunicorn.log",
                      workers=args.workers, threads=args.threads)
    config = (f"gunicorn {args.workers} workers x {args.threads} threads (gthread), "
              "dgbox.settings.production on 127.0.0.1 (plain HTTP)")
    runs: dict[int, list[dict]] = {n: [] for n in levels}
    try:
        console.print(f"{config}; {len(Shared.hosts)} tenants; {os.cpu_count()} CPUs; load "
                      "average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        console.print(f"Limits: DGBOX_API_RATE={API_RATE} (not hit by one address); each "
                      "citizen comes from a loopback address of its own, so the tracking "
                      "limits per client address (10 an hour per tenant) count each one "
                      "separately, as in production; the per-tenant limits "
                      "(DGBOX_TENANT_API_RATES, DGBOX_TENANT_APPLY_RATES) keep their defaults, "
                      "far above the ~1 request a second each tenant gets here")
        with console.status(f"Warming up: every tenant's home and catalogue, then "
                            f"{args.warmup:.0f} s of the mix at {max(levels)} users..."):
            warm = warm_up(server.port, Shared.hosts, args.warmup, max(levels))
        console.print(f"Warm-up: {warm['sweep_errors'] + warm['errors']} errors "
                      + "; ".join(warm["samples"]))
        for round_ in range(args.rounds):
            order = levels if round_ % 2 == 0 else levels[::-1]
            for users in order:
                with console.status(f"Round {round_ + 1}/{args.rounds}: {users} users, "
                                    f"{args.seconds:.0f} s..."):
                    run = run_level(server.port, users, args.seconds, server)
                runs[users].append(run)
                s = summary(run)
                console.print(f"  round {round_ + 1}, {users:2} users: {s['per_second']:.1f} "
                              f"req/s, {s['errors']} errors, load "
                              "{:.2f} -> {:.2f}".format(run["load_before"][0],
                                                        run["load_after"][0]))
    finally:
        server.stop()
        broker.delete(*queue_keys())
    load_end = os.getloadavg()

    summaries = [summary(merge(runs[n])) for n in levels]
    errors = sum(s["errors"] for s in summaries) + warm["sweep_errors"] + warm["errors"]
    for s in summaries:
        table = Table(title=f"{s['users']} concurrent user(s), {s['seconds']:.0f} s in "
                            f"{s['rounds']} round(s), "
                            f"{len(Shared.hosts)} tenants; think time {args.think:g} s",
                      title_justify="left")
        for column in ["page", "requests", "per s", "p50 ms", "p95 ms", "errors"]:
            table.add_column(column, justify="left" if column == "page" else "right")
        for row in s["pages"]:
            table.add_row(row["page"], str(row["requests"]), f"{row['per_second']:.2f}",
                          "-" if row["p50_ms"] is None else f"{row['p50_ms']:.0f}",
                          "-" if row["p95_ms"] is None else f"{row['p95_ms']:.0f}",
                          str(row["errors"]))
        table.add_row("all", str(s["requests"]), f"{s['per_second']:.2f}", "", "",
                      str(s["errors"]))
        console.print(table)
        console.print("  visits completed: " + ", ".join(
            f"{k} {v}" for k, v in sorted(s["visits"].items())) +
            f"; gunicorn CPU {s['gunicorn_cpu_ms_per_request']:.0f} ms per request")
        for sample in s["error_samples"]:
            console.print(f"[red]  {sample}[/]")
    console.print(f"{config}; {os.cpu_count()} CPUs (shared with other work); load average "
                  "before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
                      *load_start, *load_end))
    style = "green" if not errors else "red"
    console.print(f"[{style}]Errors (non-2xx/3xx, failed connections, steps that did not "
                  f"lead where they should; warm-up included): {errors}[/]")
    out = ROOT / "bench" / "results" / "load.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "tenants": len(Shared.hosts), "seconds": args.seconds, "rounds": args.rounds,
        "think": args.think, "pdf_kb": args.pdf_kb,
        "gunicorn": {"workers": args.workers, "threads": args.threads, "class": "gthread",
                     "settings": "dgbox.settings.production"},
        "limits": {"DGBOX_API_RATE": API_RATE, "client addresses": "one per citizen"},
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_before": load_start, "load_average_after": load_end,
        "warm_up": warm, "levels": summaries, "errors": errors,
        "total_seconds": time.perf_counter() - begun,
    }, indent=2, ensure_ascii=False))
    console.print(f"Written to {out.relative_to(ROOT)}; whole run "
                  f"{time.perf_counter() - begun:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
