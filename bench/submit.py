"""Online application submissions per second over HTTP, with real PostgreSQL, Redis and S3,
at 1 tenant and at --tenants tenants, in the same run.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/submit.py [--tenants 100] [--seconds 15] [--clients 8]

What runs: a database of its own (--database, created and kept between runs: the first run
migrates it and launches the tenants with their demo site and online services, which takes
many minutes; later runs only migrate what changed and clear the previous run's cases;
--fresh drops it first). Every tenant has the demo forms of demo/forms.py; the benchmark
adds the building-permit form again without its PDF question on another service page
(land-plot-scheme) as the baseline. The application runs under gunicorn (gthread,
--workers x --threads, dgbox.settings.base with DEBUG off and persistent connections) on a
loopback port of its own. Celery is not eager: every case's receipts (e-mail and SMS) are
published to the real Redis broker, on a queue of the benchmark's own so that nothing
reaches other people's workers; nothing consumes it unless --worker starts one worker.
Uploads go to an S3 bucket of the benchmark's own (--bucket), under each tenant's prefix.

--clients threads in this process drive complete journeys over HTTP, each journey a new
applicant (new TCP connection, kept alive for its five requests; no cookies), hosts taken
round-robin:

  form     GET  /ru/apply/building-permit/          the form, its CSRF cookie and token
  send     POST the form: 4 questions + contact     -> 302 to the check page
           details + a PDF (--pdf-kb, unique bytes)
  check    GET  /ru/apply/building-permit/check/    check your answers, the draft token
  submit   POST the draft token                     -> 302 to the confirmation
  done     GET  /ru/apply/building-permit/done/     the confirmation and its reference

For 1 tenant, then for --tenants: every host's form pages fetched and a journey or two per
client (untimed warm-up), then `journey` (the above) and `no upload` (the same journey on the form
without the PDF question) for --seconds each. Then `submit only`: the final step alone for
--submit-seconds or until its --submit-drafts drafts run out, on drafts made while
preparing: one the way the form step makes it (answers validated by the form,
submission.save_draft, the PDF through the private storage), the rest bulk copies of it
in their tenants, each with its own PDF in S3 and its file row. Each client keeps one
connection and one session per tenant, and makes its CSRF secret itself, which Django
accepts as it accepts its own. Rates count what completed inside the window; latencies are
over everything that completed; errors are any unexpected status or failure (warm-ups
included) and must be 0. About 3 minutes once the database is prepared.

Afterwards everything is checked against what the clients did and were told: each tenant's
cases are exactly its journeys and submitted drafts, with the references the confirmation
pages gave; every upload is in S3 under its own tenant's prefix with the size and SHA-256 of
what the client sent (listed per tenant, one object per tenant read back), drafts not
submitted are still drafts; two receipts per case, and the broker holds one task per message.
CPU time of gunicorn, the bench database's PostgreSQL backends, SeaweedFS, Redis and the
client threads is reported per journey or submit, with what the rest of the (shared) machine
used meanwhile. Figures are printed and written to bench/results/submit.json; gunicorn's log goes to
.state/submit-gunicorn.log (DGBOX_STATE_DIR). A measurement, never a test.
"""

import argparse
import base64
import contextlib
import hashlib
import http.client
import itertools
import json
import math
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn, database_url  # noqa: E402

SLUG = "submit-{:03d}"
SERVICE = "building-permit"  # demo/forms.py: what, where, floors + a PDF of the project
BASELINE = "land-plot-scheme"  # another demo service page: the same questions, no PDF
QUEUE = "dgbox-bench-submit"
STEPS = ["form", "send", "check", "submit", "done"]
ANSWERS = {
    "applicant_name": "Иван Петров", "applicant_email": "ivan.petrov@example.org",
    "applicant_phone": "+7 912 345-67-89", "object_name": "Индивидуальный жилой дом",
    "site_0": "ул. Садовая, 5", "site_1": "", "site_2": "Рябиновка", "site_3": "101000",
    "floors": "2",
}
CSRF_RE = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
DRAFT_RE = re.compile(rb'name="draft" value="([0-9a-f-]+)"')
REFERENCE_RE = re.compile(rb"\b([A-Z]{2,5}-\d{4}-\d{6})\b")
SERVER_ERROR_RE = re.compile(r"^[A-Za-z_.]*(Error|Exception|Detected|Deadlock\w*): ")


def make_pdf(kb: int, tag: str = "") -> bytes:
    """A small PDF (what the server sniffs: the %PDF- magic), incompressible body, unique."""
    body = secrets.token_bytes(max(0, kb * 1024 - 200))
    return (b"%PDF-1.4\n%" + tag.encode() + b"\n1 0 obj<</Length " + str(len(body)).encode()
            + b">>stream\n" + body + b"\nendstream endobj\ntrailer<<>>\n%%EOF\n")


# --- Orchestrator ---------------------------------------------------------------------------


def child_env(args, url: str) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.base",
        "DATABASE_URL": url,
        "DGBOX_DEBUG": "0",
        "DGBOX_LOG_LEVEL": "ERROR",
        "DGBOX_CELERY_QUEUE": QUEUE,
        "DGBOX_S3_BUCKET": args.bucket,
        "PYTHONPATH": str(ROOT),
    })
    return env


def django_step(args, url: str, step: str, payload=None, capture=True):
    """Run one Django-side step (prepare, drafts, verify) in a process of its own."""
    with tempfile.TemporaryDirectory() as folder:
        given, out = Path(folder) / "in.json", Path(folder) / "out.json"
        given.write_text(json.dumps(payload or {}))
        subprocess.run([sys.executable, __file__, "--_step", step, "--_in", str(given),
                        "--_out", str(out), "--tenants", str(args.tenants),
                        "--pdf-kb", str(args.pdf_kb), "--submit-drafts", str(args.submit_drafts)],
                       env=child_env(args, url), cwd=ROOT, check=True)
        return json.loads(out.read_text()) if capture else None


class Server(Gunicorn):
    """gunicorn serving dgbox.wsgi on a loopback port of its own (bench/common.py)."""

    def __init__(self, args, url: str, log: Path):
        super().__init__(child_env(args, url), log, workers=args.workers, threads=args.threads)


class CeleryWorker:
    """Optional: one worker consuming the benchmark's queue (--worker)."""

    def __init__(self, args, url: str, log: Path):
        env = child_env(args, url)
        env["EMAIL_URL"] = "dummymail://"  # delivered to nowhere: the worker's work is measured
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("celery")), "-A", "dgbox", "worker", "-Q", QUEUE,
             "--concurrency", "1", "--pool", "prefork", "--loglevel", "WARNING",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def pids(self) -> list[int]:
        import psutil

        with contextlib.suppress(psutil.Error):
            main = psutil.Process(self.proc.pid)
            return [main.pid] + [child.pid for child in main.children(recursive=True)]
        return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- CPU accounting -------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds by group over a window: ours (gunicorn, PostgreSQL backends of the bench
    database, Redis, SeaweedFS, the client threads, the Celery worker) and the machine's."""

    def __init__(self, server: Server, database: str, worker: CeleryWorker | None):
        self.server, self.database, self.worker = server, database, worker

    def _groups(self) -> dict[str, list[int]]:
        import psutil

        groups: dict[str, list[int]] = {"gunicorn": self.server.pids(), "postgres": [],
                                        "redis": [], "seaweedfs": [], "client": [os.getpid()],
                                        "celery worker": self.worker.pids() if self.worker
                                        else []}
        for proc in psutil.process_iter(["name", "cmdline"]):
            name, cmdline = proc.info["name"] or "", " ".join(proc.info["cmdline"] or [])
            if name.startswith("postgres") and f" {self.database} " in cmdline:
                groups["postgres"].append(proc.pid)
            elif name.startswith("redis-server"):
                groups["redis"].append(proc.pid)
            elif name == "weed":
                groups["seaweedfs"].append(proc.pid)
        return groups

    def snapshot(self) -> dict:
        import psutil

        seconds: dict[str, dict[int, float]] = {}
        for group, pids in self._groups().items():
            seconds[group] = {}
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(pid).cpu_times()
                    seconds[group][pid] = times.user + times.system
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0)
        return {"groups": seconds, "busy": busy, "at": time.perf_counter()}

    @staticmethod
    def delta(start: dict, end: dict) -> dict:
        used = {}
        for group, pids in end["groups"].items():
            before = start["groups"].get(group, {})
            used[group] = sum(max(0.0, t - before.get(pid, 0.0)) for pid, t in pids.items())
        wall = end["at"] - start["at"]
        busy = end["busy"] - start["busy"]
        used["rest of machine"] = max(0.0, busy - sum(used.values()))
        used["wall"] = wall
        used["machine busy %"] = 100 * busy / (wall * (os.cpu_count() or 1))
        return used


# --- HTTP client ----------------------------------------------------------------------------


class JourneyError(Exception):
    def __init__(self, step, detail):
        super().__init__(f"{step}: {detail}")
        self.step = step


class Applicant:
    """A browser: one keep-alive connection to the server, a cookie jar per host."""

    def __init__(self, port: int, timeout: float = 120):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.jars: dict[str, dict[str, str]] = {}

    def close(self):
        self.conn.close()

    def request(self, step, host, method, path, body=None, content_type=None, expect=200,
                location=None) -> tuple[float, bytes]:
        jar = self.jars.setdefault(host, {})
        headers = {"Host": host, "Accept": "text/html", "User-Agent": "dgbox-bench"}
        if jar:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if content_type:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            raise JourneyError(step, f"{type(exc).__name__}: {exc}") from exc
        elapsed = time.perf_counter() - started
        for header in response.msg.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for key, morsel in cookie.items():
                jar[key] = morsel.value
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()  # http.client reconnects on the next request
        if response.status != expect:
            raise JourneyError(step, f"HTTP {response.status} (expected {expect})")
        if location and not (response.getheader("Location") or "").endswith(location):
            raise JourneyError(step, f"redirected to {response.getheader('Location')!r}")
        return elapsed, data


def multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = "----dgboxbench" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + str(value).encode() + b"\r\n")
    for name, (filename, content_type, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
                     .encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def journey(port: int, host: str, slug: str, pdf_kb: int | None) -> dict:
    """One complete application by a new applicant (new connection, no cookies)."""
    applicant = Applicant(port)
    steps = {}
    base = f"/ru/apply/{slug}/"
    try:
        steps["form"], page = applicant.request("form", host, "GET", base)
        token = CSRF_RE.search(page)
        if not token:
            raise JourneyError("form", "no CSRF token on the form page")
        files, digest = {}, None
        if pdf_kb is not None:
            pdf = make_pdf(pdf_kb, uuid.uuid4().hex)
            digest = hashlib.sha256(pdf).hexdigest()
            files["project"] = ("Проект дома.pdf", "application/pdf", pdf)
        body, content_type = multipart(
            {"csrfmiddlewaretoken": token.group(1).decode(), **ANSWERS}, files)
        steps["send"], _ = applicant.request("send", host, "POST", base, body, content_type,
                                             expect=302, location=f"{base}check/")
        steps["check"], page = applicant.request("check", host, "GET", f"{base}check/")
        draft, token = DRAFT_RE.search(page), CSRF_RE.search(page)
        if not draft or not token:
            raise JourneyError("check", "no draft or CSRF token on the check page")
        body = (f"csrfmiddlewaretoken={token.group(1).decode()}&draft={draft.group(1).decode()}"
                .encode())
        steps["submit"], _ = applicant.request(
            "submit", host, "POST", f"{base}check/", body, "application/x-www-form-urlencoded",
            expect=302, location=f"{base}done/")
        steps["done"], page = applicant.request("done", host, "GET", f"{base}done/")
        reference = REFERENCE_RE.search(page)
        if not reference:
            raise JourneyError("done", "no reference on the confirmation page")
    finally:
        applicant.close()
    return {"host": host, "steps": steps, "token": draft.group(1).decode(),
            "reference": reference.group(1).decode(), "sha256": digest}


def _run_clients(clients: int, work) -> tuple[list, list]:
    done, errors, lock = [], [], threading.Lock()

    def client(index):
        for outcome in work(index):
            with lock:
                (errors if isinstance(outcome, str) else done).append(outcome)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done, errors


def drive_journeys(port, hosts, slug, pdf_kb, clients, seconds, each=None) -> dict:
    """--clients threads doing journeys for `seconds` (or `each` journeys each), hosts
    round-robin."""
    counter = itertools.count()  # next() on it is atomic under the GIL
    started = time.perf_counter()
    deadline = started + seconds

    def work(_index):
        for _ in itertools.count() if each is None else range(each):
            if each is None and time.perf_counter() >= deadline:
                return
            host = hosts[next(counter) % len(hosts)]
            try:
                result = journey(port, host, slug, pdf_kb)
            except JourneyError as exc:
                yield str(exc)
                continue
            result["end"] = time.perf_counter()
            yield result

    done, errors = _run_clients(clients, work)
    return {"results": done, "errors": errors, "started": started, "deadline": deadline}


def drive_submits(port, drafts, slug, clients, seconds) -> dict:
    """The final step alone for `seconds` (or until the drafts run out): each client one
    keep-alive connection and one session per tenant, taking the next draft each time."""
    csrf = secrets.token_hex(16)  # a 32-character CSRF secret, as Django's own cookie holds
    pending = iter(drafts)  # next() on it is atomic under the GIL
    started = time.perf_counter()
    deadline = started + seconds
    path = f"/ru/apply/{slug}/check/"

    def work(_index):
        applicant = Applicant(port)
        try:
            while time.perf_counter() < deadline:
                item = next(pending, None)
                if item is None:
                    return
                applicant.jars.setdefault(item["host"], {"csrftoken": csrf})
                try:
                    elapsed, _ = applicant.request(
                        "submit", item["host"], "POST", path,
                        f"csrfmiddlewaretoken={csrf}&draft={item['token']}".encode(),
                        "application/x-www-form-urlencoded", expect=302,
                        location=f"/ru/apply/{slug}/done/")
                except JourneyError as exc:
                    yield str(exc)
                    continue
                yield {"host": item["host"], "token": item["token"],
                       "steps": {"submit": elapsed}, "end": time.perf_counter()}
        finally:
            applicant.close()

    done, errors = _run_clients(clients, work)
    finished = time.perf_counter()
    return {"results": done, "errors": errors, "started": started,
            "deadline": min(deadline, finished)}


def warm_up(port, hosts, slugs, clients):
    """Every host's form pages once, untimed, so that per-process caches (hosts, Wagtail
    sites, PostgreSQL's per-schema catalog caches) are not cold at the start of timing."""
    pages = [(host, slug) for host in hosts for slug in slugs]

    def work(index):
        applicant = Applicant(port)
        try:
            for host, slug in pages[index::clients]:
                try:
                    applicant.request("warm-up", host, "GET", f"/ru/apply/{slug}/")
                except JourneyError as exc:
                    yield str(exc)
        finally:
            applicant.close()

    _done, errors = _run_clients(clients, work)
    if errors:
        raise SystemExit(f"warm-up failed: {errors[:3]}")


# --- Statistics -----------------------------------------------------------------------------


def queued_messages(broker, keys) -> int:
    """How many notification messages the tasks waiting in the broker's `keys` name: a
    `notifications.deliver` task names one, a `notifications.deliver_all` task (one
    submission's receipts together) a list of them."""
    count = 0
    for key in keys:
        for raw in broker.lrange(key, 0, -1):
            envelope = json.loads(raw)
            body = envelope["body"]
            if envelope.get("properties", {}).get("body_encoding") == "base64":
                body = base64.b64decode(body)
            argument = json.loads(body)[0][0]
            count += len(argument) if isinstance(argument, list) else 1
    return count


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(name, tenants, run, cpu) -> dict:
    results, window = run["results"], run["deadline"] - run["started"]
    in_window = [r for r in results if r["end"] <= run["deadline"]]
    steps = {}
    for step in STEPS:
        values = [r["steps"][step] for r in results if step in r["steps"]]
        if values:
            steps[step] = {"p50_ms": 1000 * percentile(values, 0.5),
                           "p99_ms": 1000 * percentile(values, 0.99), "n": len(values)}
    totals = [sum(r["steps"].values()) for r in results]
    count = len(in_window)
    per = max(1, len(results))
    return {
        "condition": name, "tenants": tenants, "completed": len(results),
        "in_window": count, "seconds": window, "per_second": count / window if window else 0,
        "p50_ms": 1000 * percentile(totals, 0.5) if totals else None,
        "p99_ms": 1000 * percentile(totals, 0.99) if totals else None,
        "steps": steps, "errors": len(run["errors"]), "error_samples": run["errors"][:5],
        "hosts_used": len({r["host"] for r in results}),
        "cpu_ms_per_item": {k: 1000 * v / per for k, v in cpu.items()
                            if k not in ("wall", "machine busy %")},
        "machine_busy_pct": cpu["machine busy %"],
    }


# --- Main -----------------------------------------------------------------------------------


def main():  # one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100, help="tenants of the many-tenant run")
    parser.add_argument("--seconds", type=float, default=15,
                        help="timed seconds per condition")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--pdf-kb", type=int, default=100, help="size of the uploaded PDF")
    parser.add_argument("--submit-seconds", type=float, default=10,
                        help="timed seconds of the submit-only runs")
    parser.add_argument("--submit-drafts", type=int, default=250,
                        help="drafts ready for each submit-only run (it stops when they run "
                             "out or after --submit-seconds)")
    parser.add_argument("--worker", action="store_true",
                        help="also run one Celery worker consuming the receipts")
    parser.add_argument("--database", default="dgbox_bench_submit")
    parser.add_argument("--bucket", default="dgbox-bench-submit")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the benchmark database first (launches every tenant again)")
    parser.add_argument("--_step", help=argparse.SUPPRESS)
    parser.add_argument("--_in", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._step:
        return django_side(args)

    from rich.console import Console

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    if not os.environ.get("REDIS_URL") or not os.environ.get("DGBOX_S3_ENDPOINT_URL"):
        parser.error("needs REDIS_URL and an S3 endpoint: run it as `python -m "
                     "infra.localservices run --redis required -- .venv/bin/python "
                     "bench/submit.py`")
    import redis

    begun = time.perf_counter()
    url = database_url(args.database, args.fresh)
    console.print(f"Preparing {args.database} ({args.tenants} tenants; the first run launches "
                  "them)...")
    prepared = django_step(args, url, "prepare")
    hosts = prepared["hosts"]
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])

    def queue_keys():  # kombu keeps a list per priority step: "<queue>", "<queue>\x06\x163"...
        return [QUEUE] + [k.decode() for k in broker.scan_iter(f"{QUEUE}\x06\x16*")]

    broker.delete(*queue_keys())
    console.print(f"Prepared in {time.perf_counter() - begun:.0f} s: cleared "
                  f"{prepared['cleared_cases']} cases and {prepared['cleared_objects']} S3 "
                  f"objects of the previous run, made "
                  f"{' + '.join(str(len(d)) for d in prepared['drafts'])} drafts for the "
                  "submit step alone (" + ", ".join(f"{k} {v:.0f} s" for k, v in
                                                   prepared["timings"].items()) + ")")

    logs = Path(os.environ.get("DGBOX_STATE_DIR") or ROOT / ".state")  # ignored by git
    logs.mkdir(parents=True, exist_ok=True)
    summaries, journeys, drafts_made, submitted = [], [], [], []
    worker = None
    server = Server(args, url, logs / "submit-gunicorn.log")
    try:
        if args.worker:
            worker = CeleryWorker(args, url, logs / "submit-celery.log")
        meter = CpuMeter(server, args.database, worker)
        console.print(f"gunicorn on 127.0.0.1:{server.port}: {args.workers} workers x "
                      f"{args.threads} threads (gthread); {args.clients} client threads; PDF "
                      f"{args.pdf_kb} KB; receipts to Celery queue {QUEUE!r} on "
                      f"{_redacted(os.environ['REDIS_URL'])} "
                      f"({'one worker consuming' if worker else 'no worker consuming'}); "
                      f"S3 bucket {args.bucket!r}")

        def report(summary, extra=""):
            console.print(f"  {summary['tenants']:3} tenant(s) {summary['condition']:11} "
                          f"{summary['per_second']:6.1f}/s, p50 {summary['p50_ms']:5.0f} ms, "
                          f"p99 {summary['p99_ms']:5.0f} ms, errors "
                          f"{summary['errors'] + summary.get('warmup_errors', 0)}, machine "
                          f"busy {summary['machine_busy_pct']:.0f}%{extra}")

        counts = sorted({1, args.tenants})
        for count in counts:
            group = hosts[:count]
            # A fresh server also makes one S3 client per thread on its first upload: two
            # journeys per client first, so that those are not in the timed figures.
            each = 2 if count == counts[0] else 1
            with console.status(f"Warming up {count} tenant(s): form pages of every host, "
                                f"then {each} journey(s) per client..."):
                warm_up(server.port, group, [SERVICE, BASELINE], args.clients)
                warm = drive_journeys(server.port, group, SERVICE, args.pdf_kb, args.clients,
                                      0, each=each)
            journeys.extend({k: r[k] for k in ("host", "token", "reference", "sha256")}
                            for r in warm["results"])
            for name, slug, pdf_kb in (("journey", SERVICE, args.pdf_kb),
                                       ("no upload", BASELINE, None)):
                with console.status(f"{name}, {count} tenant(s): {args.seconds:.0f} s"):
                    start = meter.snapshot()
                    run = drive_journeys(server.port, group, slug, pdf_kb, args.clients,
                                         args.seconds)
                    cpu = CpuMeter.delta(start, meter.snapshot())
                journeys.extend({k: r[k] for k in ("host", "token", "reference", "sha256")}
                                for r in run["results"])
                summary = summarise(name, count, run, cpu)
                if name == "journey":
                    summary["warmup_errors"] = len(warm["errors"])
                summaries.append(summary)
                report(summary)
        draft_sets = prepared["drafts"]
        for count, drafts in zip(counts, draft_sets, strict=True):
            drafts_made.extend(drafts)
            with console.status(f"submit only, {count} tenant(s): "
                                f"{args.submit_seconds:.0f} s"):
                start = meter.snapshot()
                run = drive_submits(server.port, drafts, SERVICE, args.clients,
                                    args.submit_seconds)
                cpu = CpuMeter.delta(start, meter.snapshot())
            submitted.extend(r["token"] for r in run["results"])
            summary = summarise("submit only", count, run, cpu)
            summary["drafts"] = len(drafts)
            summary["drafts_ran_out"] = len(run["results"]) + len(run["errors"]) == len(drafts)
            summaries.append(summary)
            report(summary, f"; {len(run['results'])} of {len(drafts)} drafts"
                            + (", ran out before the time was up" if summary["drafts_ran_out"]
                               else ""))
        if worker:
            with console.status("Waiting (up to 60 s) for the worker to drain the queue..."):
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and sum(
                        broker.llen(k) for k in queue_keys()) > 0:
                    time.sleep(1)
                time.sleep(3)  # the last tasks finish
    finally:
        if worker:
            worker.stop()
        server.stop()

    queued = queued_messages(broker, queue_keys())
    with console.status("Verifying cases, uploads in S3 and the broker..."):
        check = django_step(args, url, "verify", {"journeys": journeys, "drafts": drafts_made,
                                                  "submitted": submitted, "queued": queued,
                                                  "worker": bool(worker)})
    broker.delete(*queue_keys())  # the receipts stay pending in the bench database
    ok = check["ok"] and not any(s["errors"] or s.get("warmup_errors") for s in summaries)
    print_table(console, args, summaries)
    style = "green" if ok else "red"
    console.print(f"[{style}]Verification: {check['cases']} cases for "
                  f"{check['expected_cases']} applications ({check['journeys']} journeys incl. "
                  f"warm-ups, {check['submits']} submit-only) in {check['tenants']} tenants, "
                  f"each tenant's references exactly as its applicants were told: "
                  f"{check['references_match']}; {check['uploads_in_s3']} of "
                  f"{check['uploads_expected']} uploads in S3 under their own tenant's prefix, "
                  f"size and SHA-256 as sent: {check['uploads_match']} ({check['downloaded']} "
                  f"downloaded and hashed); {check['receipts']} receipts (e-mail + SMS) in "
                  f"{check['messages']} messages, "
                  f"{check['broker']}[/]")
    for problem in check["problems"][:10]:
        console.print(f"[red]  {problem}[/]")
    if any(s["errors"] or s.get("warmup_errors") for s in summaries):
        kinds = Counter(line.strip() for line in server.log.read_text(errors="replace")
                        .splitlines() if SERVER_ERROR_RE.match(line))
        console.print(f"[red]Errors: see {server.log}; exceptions there: "
                      + "; ".join(f"{n} x {k[:100]}" for k, n in kinds.most_common(4)) + "[/]")
    out = ROOT / "bench" / "results" / "submit.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "tenants": args.tenants, "seconds": args.seconds, "clients": args.clients,
        "gunicorn": {"workers": args.workers, "threads": args.threads, "class": "gthread"},
        "pdf_kb": args.pdf_kb, "celery_worker": bool(worker), "queue": QUEUE,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average": os.getloadavg(), "results": summaries, "verification": check,
        "total_seconds": time.perf_counter() - begun,
    }, indent=2, ensure_ascii=False))
    console.print(f"Written to {out.relative_to(ROOT)}; whole run "
                  f"{time.perf_counter() - begun:.0f} s")
    return 0 if ok else 1


def print_table(console, args, summaries):
    from rich.table import Table

    table = Table(title=f"Application submissions over HTTP: gunicorn {args.workers}x"
                        f"{args.threads} gthread, {args.clients} clients, {args.seconds:.0f} s "
                        f"per condition, PDF {args.pdf_kb} KB, {os.cpu_count()} CPUs (shared)",
                  title_justify="left")
    for column in ["tenants", "condition", "per s", "n", "p50 ms", "p99 ms",
                   *[f"{step} p50/p99" for step in STEPS], "errors"]:
        table.add_column(column, justify="left" if column == "condition" else "right")
    for s in summaries:
        table.add_row(
            str(s["tenants"]), s["condition"], f"{s['per_second']:.1f}", str(s["completed"]),
            f"{s['p50_ms']:.0f}", f"{s['p99_ms']:.0f}",
            *[f"{s['steps'][st]['p50_ms']:.0f}/{s['steps'][st]['p99_ms']:.0f}"
              if st in s["steps"] else "-" for st in STEPS],
            str(s["errors"] + s.get("warmup_errors", 0)))
    console.print(table)
    console.print("per s: journeys (form, send, check, submit, done) completed inside the "
                  "window, per second; for 'submit only', final POSTs per second. n: completed "
                  "(latencies, in ms, are over these).")
    cpu_table = Table(title="CPU ms per journey (per submit for 'submit only')",
                      title_justify="left")
    groups = ["gunicorn", "postgres", "seaweedfs", "redis", "client", "celery worker",
              "rest of machine"]
    for column in ["tenants", "condition", *groups, "machine busy"]:
        cpu_table.add_column(column, justify="left" if column == "condition" else "right")
    for s in summaries:
        cpu = s["cpu_ms_per_item"]
        cpu_table.add_row(str(s["tenants"]), s["condition"],
                          *[f"{cpu[g]:.0f}" for g in groups], f"{s['machine_busy_pct']:.0f}%")
    console.print(cpu_table)
    console.print("postgres: the backends of the bench database; rest of machine: other "
                  "people's work on the shared machine meanwhile.")


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=(parts.hostname or "")
                                     + (f":{parts.port}" if parts.port else "")))


# --- Django side (each step in a process of its own, bench settings) -----------------------


def django_side(args) -> int:
    import django

    django.setup()
    payload = json.loads(Path(args._in).read_text())
    step = {"prepare": prepare, "verify": verify}[args._step]
    Path(args._out).write_text(json.dumps(step(args, payload)))
    return 0


def bench_tenants():
    from tenants.models import Tenant

    return list(Tenant.objects.filter(slug__startswith="submit-").order_by("slug"))


def baseline_spec():
    from demo.forms import FORMS

    return [field for field in FORMS["ru"][SERVICE] if field["type"] != "file"]


def prepare(args, _payload) -> dict:  # one linear preparation
    """Migrate, launch what is missing, give every tenant its services, clear the last run."""
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import tenant_context
    from rich.progress import Progress

    from cms.models import ServicePage
    from demo import forms as demo_forms
    from demo import site as demo_site
    from dgbox.celery import app
    from infra import s3
    from services.forms.blocks import stream_data_from_spec
    from services.models import (
        ApplicationDraft,
        Case,
        CaseEvent,
        OnlineService,
        Payment,
        TrackingCode,
        UploadedFile,
    )
    from services.notifications.models import Message
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    timings, clock = {}, time.perf_counter()

    def lap(name):
        nonlocal clock
        timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        print("Migrating the benchmark database, its template and tenants...", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
    s3.ensure_bucket()
    # Spare-pool top-ups after each launch run here, not on some worker of the shared Redis.
    app.conf.task_always_eager = True
    slugs = [SLUG.format(i) for i in range(args.tenants)]
    have = set(Tenant.objects.filter(slug__in=slugs).values_list("slug", flat=True))
    missing = [slug for slug in slugs if slug not in have]
    if missing:
        with Progress(transient=True) as progress:
            task = progress.add_task("Launching tenants", total=len(missing))
            for slug in missing:
                launch_tenant(LaunchRequest(name=f"Заявочная область {slug[-3:]}",
                                            kind="region", slug=slug,
                                            admin_email=f"admin@{slug}.example"))
                progress.advance(task)
    lap("migrate and launch")
    tenants = [t for t in bench_tenants() if t.slug in set(slugs)]
    schemas = [t.schema_name for t in tenants]
    with connection.cursor() as cursor:  # which tenants have both services (one query)
        cursor.execute(" UNION ALL ".join(
            f"SELECT %s, count(*) FROM {schema}.services_onlineservice s JOIN "
            f"{schema}.wagtailcore_page p ON p.id = s.page_id WHERE p.slug IN (%s, %s)"
            for schema in schemas), [v for schema in schemas for v in (schema, SERVICE,
                                                                      BASELINE)])
        ready = {schema for schema, count in cursor.fetchall() if count == 2}
    unready = [t for t in tenants if t.schema_name not in ready]
    if unready:
        with Progress(transient=True) as progress:
            task = progress.add_task("Writing the demo site and services", total=len(unready))
            for tenant in unready:
                with tenant_context(tenant), transaction.atomic():
                    demo_site.populate("ru")
                    demo_forms.populate("ru")
                    page = ServicePage.objects.get(slug=BASELINE, locale__language_code="ru")
                    if not OnlineService.objects.filter(page=page).exists():
                        OnlineService.objects.create(
                            page=page, form=stream_data_from_spec(baseline_spec()))
                progress.advance(task)
    lap("services")
    # Start from nothing: no cases, drafts, receipts, sessions or uploads of earlier runs,
    # in every bench tenant (also those beyond --tenants: verify() looks at all of them).
    connection.set_schema_to_public()
    schemas = [t.schema_name for t in bench_tenants()]
    tables = [m._meta.db_table for m in (Payment, TrackingCode, CaseEvent, UploadedFile,
                                         ApplicationDraft, Case, Message)] + ["django_session"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT count(*) FROM {schema}.services_case"
                                          for schema in schemas))
        cleared_cases = sum(row[0] for row in cursor.fetchall())
        # And every table that points at them (workflow state, notes...), found from the
        # foreign keys; Django's are deferred, so the order of the DELETEs does not matter.
        cursor.execute("SELECT src.relname, dst.relname FROM pg_constraint c "
                       "JOIN pg_class src ON src.oid = c.conrelid "
                       "JOIN pg_class dst ON dst.oid = c.confrelid "
                       "WHERE c.contype = 'f' AND c.connamespace = %s::regnamespace",
                       [schemas[0]])
        edges, wipe = cursor.fetchall(), set(tables)
        while more := {src for src, dst in edges if dst in wipe} - wipe:
            wipe |= more
        cursor.execute("; ".join(f"DELETE FROM {schema}.{table}" for schema in schemas
                                 for table in sorted(wipe)))
    # Only the bench tenants' prefixes, whatever bucket this is.
    keys = [o.key for o in s3.iter_objects("tenants/") if o.key.split("/")[1] in set(schemas)]
    cleared_objects = s3.delete_keys(keys) if keys else 0
    lap("clearing")
    hosts = [t.primary_domain for t in tenants]
    drafts = make_drafts(args, [{"hosts": hosts[:count], "count": args.submit_drafts}
                                for count in sorted({1, args.tenants})])
    lap("drafts")
    return {"hosts": hosts, "drafts": drafts, "cleared_cases": cleared_cases,
            "cleared_objects": cleared_objects, "timings": timings}


def make_drafts(args, sets) -> list:
    """Drafts for the submit step alone. The first is made exactly as the form step makes it
    (the form validates the answers, submission.save_draft stores them and the PDF through
    the private storage); the others are copies of it in their tenants (the same answers,
    each with a PDF of its own in S3 and its UploadedFile row), written in bulk so that a few
    hundred take seconds. One list per set, hosts round-robin in each."""
    from concurrent.futures import ThreadPoolExecutor

    from django.core.files.storage import storages
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils.datastructures import MultiValueDict
    from django_tenants.utils import tenant_context

    from infra import s3
    from services.applications import submission
    from services.forms import spec as formspec
    from services.models import ApplicationDraft, OnlineService, UploadedFile
    from tenants.models import Domain

    tenants = {h: Domain.objects.select_related("tenant").get(domain=h).tenant
               for spec in sets for h in spec["hosts"]}
    made: dict[tuple, dict] = {}
    first_host = sets[0]["hosts"][0]
    with tenant_context(tenants[first_host]):
        service = OnlineService.objects.get(page__slug=SERVICE)
        version = service.versions.order_by("-number").first()
        pdf = make_pdf(args.pdf_kb, uuid.uuid4().hex)
        files = MultiValueDict({"project": [SimpleUploadedFile(
            "Проект дома.pdf", pdf, content_type="application/pdf")]})
        form = formspec.ApplicationForm(version.spec, dict(ANSWERS), files)
        if not form.is_valid():
            raise SystemExit(f"the bench answers are not valid: {form.errors}")
        original = submission.save_draft(service, version, form.cleaned_data, language="ru")
        model = original.files.get()
    made[(0, 0)] = {"host": first_host, "token": str(original.token),
                    "sha256": hashlib.sha256(pdf).hexdigest()}
    by_host: dict[str, list[tuple]] = {}
    for n, spec in enumerate(sets):
        for i in range(spec["count"]):
            if (n, i) != (0, 0):
                by_host.setdefault(spec["hosts"][i % len(spec["hosts"])], []).append((n, i))
    storage = storages["private"]
    with ThreadPoolExecutor(8) as pool:
        for host, places in by_host.items():
            with tenant_context(tenants[host]):
                service = OnlineService.objects.get(page__slug=SERVICE)
                version = service.versions.order_by("-number").first()
                drafts, rows, puts = [], [], []
                for place in places:
                    token, file_id = uuid.uuid4(), uuid.uuid4()
                    pdf = make_pdf(args.pdf_kb, token.hex)
                    digest = hashlib.sha256(pdf).hexdigest()
                    name = f"uploads/{token.hex}/{uuid.uuid4().hex}.{model.extension}"
                    answers = dict(original.answers)
                    answers[model.field_name] = {"file": str(file_id),
                                                 "name": model.original_name,
                                                 "size": len(pdf), "type": model.content_type}
                    drafts.append(ApplicationDraft(token=token, service=service,
                                                   form_version=version, answers=answers,
                                                   language=original.language))
                    rows.append(UploadedFile(
                        id=file_id, draft_id=token, field_name=model.field_name,
                        storage_name=name, original_name=model.original_name,
                        extension=model.extension, content_type=model.content_type,
                        size=len(pdf), sha256=digest))
                    puts.append((storage.key_for(name), pdf))
                    made[place] = {"host": host, "token": str(token), "sha256": digest}
                list(pool.map(lambda put: s3.upload_bytes(put[0], put[1],
                                                          content_type=model.content_type),
                              puts))  # the objects first: no row ever points to nothing
                ApplicationDraft.objects.bulk_create(drafts)
                UploadedFile.objects.bulk_create(rows)
    return [[made[(n, i)] for i in range(spec["count"])] for n, spec in enumerate(sets)]


def verify(_args, payload) -> dict:  # one list of checks
    """Every case, upload and receipt against what the clients did and were told."""
    from django.core.files.storage import storages
    from django_tenants.utils import tenant_context

    from infra import s3
    from services.models import ApplicationDraft, Case, UploadedFile
    from services.notifications.models import Message

    problems: list[str] = []
    # draft token -> (host, reference told or None for submit-only, sha256 sent or None)
    expected: dict[str, tuple] = {}
    for j in payload["journeys"]:
        expected[j["token"]] = (j["host"], j["reference"], j["sha256"])
    for d in payload["drafts"]:
        expected[d["token"]] = (d["host"], None, d["sha256"])
    submitted = set(payload["submitted"])
    wanted_cases = {t for t, (_h, ref, _s) in expected.items() if ref or t in submitted}
    totals = {"cases": 0, "in_s3": 0, "messages": 0, "receipts": 0, "sent": 0,
              "downloaded": 0}
    refs_match = uploads_match = True
    storage = storages["private"]
    for tenant in bench_tenants():
        host = tenant.primary_domain
        mine = {t: v for t, v in expected.items() if v[0] == host}
        with tenant_context(tenant):
            cases = {str(c.submission_key): c.reference for c in Case.objects.all()}
            totals["cases"] += len(cases)
            want = {t for t in mine if t in wanted_cases}
            if set(cases) != want:
                refs_match = False
                problems.append(f"{tenant.slug}: {len(cases)} cases, {len(want)} expected "
                                f"({len(set(cases) - want)} unexpected, {len(want - set(cases))} "
                                "missing)")
            told = [(t, v[1]) for t, v in mine.items() if v[1]]
            wrong = [t for t, ref in told if cases.get(t) != ref]
            if wrong:
                refs_match = False
                problems.append(f"{tenant.slug}: {len(wrong)} references differ from what the "
                                "confirmation page said")
            unsubmitted = set(ApplicationDraft.objects.filter(case__isnull=True)
                              .values_list("token", flat=True))
            if {str(t) for t in unsubmitted} != {t for t in mine if t not in want}:
                problems.append(f"{tenant.slug}: drafts left without a case do not match")
                refs_match = False
            files = list(UploadedFile.objects.all())
            keys = {storage.key_for(f.storage_name): f for f in files}
            prefix = s3.tenant_prefix(tenant.schema_name)
            listed = {o.key: o.size for o in s3.iter_objects(prefix)}
            totals["in_s3"] += len(set(keys) & set(listed))
            if set(keys) != set(listed):
                uploads_match = False
                problems.append(f"{tenant.slug}: {len(keys)} uploads in the database, "
                                f"{len(listed)} objects under {prefix}")
            with_file = {str(f.draft_id) for f in files}
            if len(with_file) != len(files) or \
                    with_file != {t for t, v in mine.items() if v[2]}:
                uploads_match = False
                problems.append(f"{tenant.slug}: uploads are not one per application sent "
                                "with a PDF")
            sample = True
            for key, f in keys.items():
                sent = mine.get(str(f.draft_id), (None, None, None))[2]
                in_case = f.case_id is not None
                if sent != f.sha256 or listed.get(key) != f.size or \
                        in_case != (str(f.draft_id) in want):
                    uploads_match = False
                    problems.append(f"{tenant.slug}: {key} does not match what was sent")
                elif sample:  # one object per tenant read back from S3 and hashed
                    sample = False
                    totals["downloaded"] += 1
                    with storage.open(f.storage_name) as stored:
                        if hashlib.sha256(stored.read()).hexdigest() != sent:
                            uploads_match = False
                            problems.append(f"{tenant.slug}: {key} differs from what was sent")
            messages = Message.objects.all()
            totals["messages"] += messages.count()
            totals["receipts"] += messages.filter(key="application_received").count()
            totals["sent"] += messages.filter(status="sent").count()
    expected_cases = len(wanted_cases)
    if totals["cases"] != expected_cases:
        problems.append(f"{totals['cases']} cases for {expected_cases} applications")
    receipts_per_case = 2  # e-mail and SMS: the answers give both
    if totals["receipts"] != receipts_per_case * totals["cases"]:
        problems.append(f"{totals['receipts']} receipts for {totals['cases']} cases")
    if payload["worker"]:
        broker = (f"{totals['sent']} sent by the Celery worker, {payload['queued']} still "
                  "queued")
    else:
        broker = (f"{payload['queued']} receipts waiting in the broker's tasks (nothing "
                  "consumed them)")
        if payload["queued"] != totals["messages"]:
            problems.append(f"{payload['queued']} receipts queued for {totals['messages']} "
                            "receipts")
    return {"ok": not problems and refs_match and uploads_match, "problems": problems,
            "cases": totals["cases"], "expected_cases": expected_cases,
            "journeys": len(payload["journeys"]), "submits": len(submitted),
            "tenants": len({v[0] for t, v in expected.items() if t in wanted_cases}),
            "references_match": refs_match,
            "uploads_expected": sum(1 for v in expected.values() if v[2]),
            "uploads_in_s3": totals["in_s3"], "uploads_match": uploads_match,
            "downloaded": totals["downloaded"], "messages": totals["messages"],
            "receipts": totals["receipts"], "sent": totals["sent"], "queued": payload["queued"],
            "broker": broker}


if __name__ == "__main__":
    sys.exit(main())
