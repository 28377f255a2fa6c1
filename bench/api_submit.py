"""Applications per second over the API against the web form: the same service, the same
server, sides interleaved round by round.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/api_submit.py [--rounds 5] [--per-round 40] [--clients 4]

The database is bench/submit.py's kind, prepared by its `prepare` step with one tenant (the
demo building-permit form: what you build, the plot's address, floors and a PDF of the
project); --database defaults to a database of this benchmark's own, created and launched on
the first run (minutes), cleared of earlier cases on every run. An API client with the scope
applications:submit is registered in the tenant and given a new key. One gunicorn (gthread,
--workers x --threads, dgbox.settings.base, DEBUG off, persistent connections) serves both
sides on a loopback port of its own; receipts go to the real Redis broker on the benchmark's
queue (nobody consumes it).

One application, whole HTTP requests, each on a new connection (no cookies):

  web   the citizen's journey of bench/submit.py: GET the form, POST it (answers and a PDF
        of --pdf-kb, 302), GET check your answers, POST the draft (302), GET the
        confirmation with the reference: five requests.
  api   one POST /api/v1/services/building-permit/applications, multipart: the same answers
        as JSON in the part "answers" and the same kind of PDF, a new Idempotency-Key, 201
        with the reference.

--rounds rounds; in each, each side makes --per-round applications with --clients client
threads, the side going first alternating. Before the first round each side makes --warm-up
untimed applications. Reported per side: applications/s (median of the rounds, overall),
p50/p95 latency of a whole application, CPU ms per application of gunicorn and of the bench
database's PostgreSQL backends, the machine's load average and how busy it was. Afterwards
the tenant must have exactly one case per application made, and one ApiSubmission per API
application. A measurement, never a test; figures go to bench/results/api_submit.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url  # noqa: E402
from bench.submit import (  # noqa: E402
    ANSWERS,
    REFERENCE_RE,
    SERVICE,
    Applicant,
    CpuMeter,
    JourneyError,
    Server,
    child_env,
    django_step,
    journey,
    make_pdf,
    multipart,
    percentile,
)

SIDES = ("web", "api")
API_PATH = f"/api/v1/services/{SERVICE}/applications"
API_ANSWERS = {
    "applicant_name": ANSWERS["applicant_name"], "applicant_email": ANSWERS["applicant_email"],
    "applicant_phone": ANSWERS["applicant_phone"], "object_name": ANSWERS["object_name"],
    "site": {"line1": ANSWERS["site_0"], "town": ANSWERS["site_2"],
             "postcode": ANSWERS["site_3"]},
    "floors": ANSWERS["floors"],
}


def api_application(port: int, host: str, key: str, pdf_kb: int) -> dict:
    """One application over the API on a new connection: 201 and its reference."""
    applicant = Applicant(port)
    pdf = make_pdf(pdf_kb, uuid.uuid4().hex)
    body, content_type = multipart({"answers": json.dumps(API_ANSWERS, ensure_ascii=False)},
                                   {"project": ("Проект дома.pdf", "application/pdf", pdf)})
    try:
        applicant.conn.request("POST", API_PATH, body=body, headers={
            "Host": host, "Content-Type": content_type, "Authorization": f"Bearer {key}",
            "Idempotency-Key": uuid.uuid4().hex, "Accept": "application/json"})
        response = applicant.conn.getresponse()
        data = response.read()
    except OSError as exc:
        raise JourneyError("api", f"{type(exc).__name__}: {exc}") from exc
    finally:
        applicant.close()
    if response.status != 201:
        raise JourneyError("api", f"HTTP {response.status}: {data[:300]!r}")
    reference = REFERENCE_RE.search(data)
    if reference is None:
        raise JourneyError("api", "no reference in the answer")
    return {"reference": reference.group(1).decode()}


def one(side: str, port: int, host: str, key: str, pdf_kb: int) -> None:
    if side == "web":
        journey(port, host, SERVICE, pdf_kb)
    else:
        api_application(port, host, key, pdf_kb)


def drive(side, count, clients, port, host, key, pdf_kb) -> dict:
    """`count` applications of `side` by `clients` threads; latencies and errors."""
    latencies, errors, lock = [], [], threading.Lock()
    remaining = iter(range(count))  # next() on it is atomic under the GIL

    def client():
        while next(remaining, None) is not None:
            started = time.perf_counter()
            try:
                one(side, port, host, key, pdf_kb)
            except JourneyError as exc:
                with lock:
                    errors.append(str(exc))
                continue
            with lock:
                latencies.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"wall": time.perf_counter() - started, "latencies": latencies, "errors": errors}


# --- Django side (a process of its own) -----------------------------------------------------


def api_key(_args, _payload) -> dict:
    """A client allowed to submit, in the bench tenant, with a new key."""
    from django_tenants.utils import tenant_context

    from bench.submit import bench_tenants
    from services.api.models import ApiClient
    from services.api.scopes import Scope

    tenant = bench_tenants()[0]
    with tenant_context(tenant):
        client, _created = ApiClient.objects.get_or_create(
            name="bench/api_submit.py", defaults={"scopes": [Scope.SUBMIT_APPLICATIONS]})
        _key, plaintext = client.issue_key()
    return {"key": plaintext, "host": tenant.primary_domain}


def count(_args, _payload) -> dict:
    from django_tenants.utils import tenant_context

    from bench.submit import bench_tenants
    from services.api.models import ApiSubmission
    from services.models import Case

    with tenant_context(bench_tenants()[0]):
        return {"cases": Case.objects.count(), "api": ApiSubmission.objects.count(),
                "api_cases_online": Case.objects.filter(api_submission__isnull=False,
                                                        channel="online").count()}


def own_step(args, url, step):
    """Run api_key or count in a process of its own (Django set up on the bench database)."""
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        subprocess.run([sys.executable, __file__, "--_step", step, "--_out", str(out)],
                       env=child_env(args, url), cwd=ROOT, check=True)
        return json.loads(out.read_text())


# --- Orchestrator ---------------------------------------------------------------------------


def main() -> int:  # one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=40, help="applications per side")
    parser.add_argument("--warm-up", type=int, default=8)
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--pdf-kb", type=int, default=100, help="size of the uploaded PDF")
    parser.add_argument("--database", default="dgbox_bench_api_submit")
    parser.add_argument("--bucket", default="dgbox-bench-api-submit")
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    parser.add_argument("--_step", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # bench/submit.py's prepare step reads these: one tenant, one spare draft.
    args.tenants, args.submit_drafts = 1, 1
    if args._step:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.base")
        django.setup()
        result = {"api_key": api_key, "count": count}[args._step](args, {})
        Path(args._out).write_text(json.dumps(result))
        return 0

    url = database_url(args.database, args.fresh)
    print("Preparing the benchmark database (bench/submit.py prepare)...", flush=True)
    django_step(args, url, "prepare")
    given = own_step(args, url, "api_key")
    host, key = given["host"], given["key"]
    state = Path(os.environ.get("DGBOX_STATE_DIR", ROOT / ".state"))
    state.mkdir(parents=True, exist_ok=True)
    server = Server(args, url, state / "api-submit-gunicorn.log")
    meter = CpuMeter(server, args.database, None)
    rounds = {side: [] for side in SIDES}
    errors: list[str] = []
    try:
        for side in SIDES:
            errors += drive(side, args.warm_up, args.clients, server.port, host, key,
                            args.pdf_kb)["errors"]
        load_before = os.getloadavg()
        for number in range(args.rounds):
            order = SIDES if number % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                start = meter.snapshot()
                run = drive(side, args.per_round, args.clients, server.port, host, key,
                            args.pdf_kb)
                run["cpu"] = CpuMeter.delta(start, meter.snapshot())
                run["load"] = os.getloadavg()
                errors += run["errors"]
                rounds[side].append(run)
                print(f"round {number + 1} {side}: {len(run['latencies']) / run['wall']:.1f}"
                      f" applications/s, load {run['load'][0]:.1f}", flush=True)
        load_after = os.getloadavg()
    finally:
        server.stop()
    counted = own_step(args, url, "count")
    made = {side: args.warm_up + sum(len(r["latencies"]) for r in rounds[side])
            for side in SIDES}
    summary = {"conditions": {
        "rounds": args.rounds, "per_round": args.per_round, "clients": args.clients,
        "gunicorn": f"{args.workers} workers x {args.threads} threads", "pdf_kb": args.pdf_kb,
        "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after},
        "errors": errors, "counted": counted, "made": made}
    for side in SIDES:
        runs = rounds[side]
        latencies = sorted(x for r in runs for x in r["latencies"])
        done = len(latencies)
        cpu = {group: sum(r["cpu"][group] for r in runs) for group in ("gunicorn", "postgres")}
        summary[side] = {
            "per_second_median": statistics.median(len(r["latencies"]) / r["wall"]
                                                   for r in runs),
            "per_second_overall": done / sum(r["wall"] for r in runs),
            "p50_ms": 1000 * percentile(latencies, 0.5),
            "p95_ms": 1000 * percentile(latencies, 0.95),
            "gunicorn_cpu_ms": 1000 * cpu["gunicorn"] / max(done, 1),
            "postgres_cpu_ms": 1000 * cpu["postgres"] / max(done, 1),
            "machine_busy_pct": statistics.mean(r["cpu"]["machine busy %"] for r in runs),
        }
    ratio = summary["api"]["per_second_median"] / summary["web"]["per_second_median"]
    summary["api_over_web"] = ratio
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print(f"{'side':5} {'apps/s':>8} {'overall':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'gunicorn CPU ms':>16} {'SQL CPU ms':>11} {'busy %':>7}")
    for side in SIDES:
        s = summary[side]
        print(f"{side:5} {s['per_second_median']:8.1f} {s['per_second_overall']:8.1f} "
              f"{s['p50_ms']:8.0f} {s['p95_ms']:8.0f} {s['gunicorn_cpu_ms']:16.0f} "
              f"{s['postgres_cpu_ms']:11.0f} {s['machine_busy_pct']:7.0f}")
    print(f"API / web form: {ratio:.2f}x applications per second")
    problems = list(errors)
    if counted["cases"] != made["web"] + made["api"]:
        problems.append(f"{counted['cases']} cases for {made['web'] + made['api']} applications")
    if counted["api"] != made["api"] or counted["api_cases_online"] != made["api"]:
        problems.append(f"{counted['api']} API submissions for {made['api']} made")
    print("checked: one case per application" if not problems else f"PROBLEMS: {problems[:5]}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "api_submit.json").write_text(json.dumps(summary, indent=2))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
