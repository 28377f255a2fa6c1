"""The submit step alone (check your answers -> case) over HTTP: dgbox now, dgbox before a
change, and a plain Django view saving the same form to a model, interleaved round by round.

    python -m infra.localservices run --redis required -- \\
        .venv/bin/python bench/submit_step.py [--before main] [--rounds 5] [--per-round 150]

Three servers run side by side, each gunicorn gthread --workers x --threads with persistent
connections, on the same PostgreSQL server, Redis and S3:

  plain   bench/plain_submit: Django's own middleware and database sessions, a Django form
          with the building-permit questions, one model row saved, a redirect. What a
          submission costs in Django itself (no tenants, workflow, reference, outbox).
  before  dgbox as it is at git ref --before (`git archive` into a temporary folder),
          serving the benchmark database (bench/submit.py's, prepared by its `prepare` step
          with one tenant: the demo building-permit form, a PDF question included).
  after   dgbox as it is in this checkout, on the same database.

Each dgbox submit POSTs a draft made beforehand (bench/submit.py's make_drafts: the answers
and a PDF in S3, as the form step leaves them) and must answer 302 to the confirmation; each
plain submit POSTs the answers and must answer 302. Every receipt (e-mail and SMS) is
published to the real Redis broker on the benchmark's own queue (nobody consumes it).

--rounds rounds; in each, every side does --per-round submits with --clients client threads
(one keep-alive connection each), sides in a rotated order (each side goes first, second,
third in turn). Before the first round each side does --warm-up untimed submits. Reported per
side: submits/s (median of the rounds and overall), p50/p99 latency, CPU ms per submit of its
gunicorn, of the PostgreSQL backends of its database ("SQL"), of Redis and of the client
threads, with the machine's load average and how busy it was. The number of SQL statements
of one submit is counted in each code (Django's test client on two more drafts, the second
counted, in a process of its own). Afterwards every dgbox draft submitted must be exactly one
case with its two receipts, each named by a task in the broker (one task per submission
since its receipts are published together). A measurement, never a test; figures
go to bench/results/submit_step.json.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Gunicorn, database_url  # noqa: E402
from bench.submit import (  # noqa: E402
    ANSWERS,
    QUEUE,
    SERVICE,
    Applicant,
    CpuMeter,
    JourneyError,
    child_env,
    django_step,
    percentile,
    queued_messages,
)

SIDES = ("plain", "before", "after")
CHECK = f"/ru/apply/{SERVICE}/check/"
DONE = f"/ru/apply/{SERVICE}/done/"


# --- Servers --------------------------------------------------------------------------------


def export_before(ref: str, folder: Path) -> Path:
    """The code at git ref `ref`, as files (no worktree, nothing in the repository changes)."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def side_env(args, side: str, url: str, root: Path) -> dict:
    env = child_env(args, url)
    env["PYTHONPATH"] = str(root)
    # Both dgbox sides submit to one tenant and count against one apply limit (600/minute
    # for a municipality): past it they would measure 429s, not submits.
    env.setdefault("DGBOX_TENANT_APPLY_RATES", "municipality=1000000/minute,region=1000000/minute")
    if side == "plain":
        env["DJANGO_SETTINGS_MODULE"] = "bench.plain_submit.settings"
    return env


def plain_database(args) -> str:
    """The plain baseline's own database, its one table made (syncdb: no migrations)."""
    url = database_url(args.plain_database, fresh=True)
    env = side_env(args, "plain", url, ROOT)
    subprocess.run([sys.executable, "-m", "django", "migrate", "--run-syncdb", "-v", "0"],
                   env=env, cwd=ROOT, check=True)
    return url


def count_queries(args, side: str, url: str, root: Path, host: str, tokens: list) -> int:
    """SQL statements of one submit in `side`'s code (test client, a process of its own)."""
    out = subprocess.run(
        [sys.executable, __file__, "--_queries", side, "--_root", str(root), "--_host", host,
         "--_token", ",".join(tokens)], env=side_env(args, side, url, root), cwd=root,
        check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1])


def queries_here(side: str, root: str, host: str, tokens: str) -> int:
    """The second of two submits, counted: the first fills what a process loads once (the
    host map, content types), as the servers' warm-up does."""
    sys.path.insert(0, root)  # before `django`: this side's dgbox, not this checkout's
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    drafts = tokens.split(",") if tokens else ["", ""]
    for position, token in enumerate(drafts):
        client = Client()
        path, data = ("/submit/", ANSWERS) if side == "plain" else (CHECK, {"draft": token})
        with CaptureQueriesContext(connection) as captured:
            response = client.post(path, data, HTTP_HOST=host)
        if response.status_code != 302:
            raise SystemExit(f"{side}: submit {position + 1} answered {response.status_code}")
    return len(captured.captured_queries)


# --- Clients --------------------------------------------------------------------------------


def drive(port: int, items: list, clients: int, side: str) -> dict:
    """POST each item (a dgbox draft, or None for a plain submit) with `clients` threads."""
    csrf = "b" * 32  # a CSRF secret of Django's own form: its cookie and field agree
    pending = iter(items)  # next() on it is atomic under the GIL
    lock = threading.Lock()
    done, errors = [], []

    def client():
        applicant = Applicant(port)
        try:
            while (item := next(pending, False)) is not False:
                host = item["host"] if item else "plain.localhost"
                applicant.jars.setdefault(host, {"csrftoken": csrf})
                if item:
                    path, body, location = CHECK, {"draft": item["token"]}, DONE
                else:
                    path, body, location = "/submit/", ANSWERS, "/done/"
                try:
                    elapsed, _ = applicant.request(
                        "submit", host, "POST", path,
                        urlencode({"csrfmiddlewaretoken": csrf, **body}).encode(),
                        "application/x-www-form-urlencoded", expect=302, location=location)
                except JourneyError as exc:
                    with lock:
                        errors.append(f"{side}: {exc}")
                    continue
                with lock:
                    done.append((elapsed, item["token"] if item else None))
        finally:
            applicant.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"wall": time.perf_counter() - started, "done": done, "errors": errors}


# --- Main -----------------------------------------------------------------------------------


def main() -> int:  # one linear script
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="main", help="git ref of the code before")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=150, help="submits per side and round")
    parser.add_argument("--warm-up", type=int, default=24, help="untimed submits per side first")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--pdf-kb", type=int, default=4, help="the PDF of each draft")
    parser.add_argument("--database", default="dgbox_bench_submit")
    parser.add_argument("--plain-database", default="dgbox_bench_plain_submit")
    parser.add_argument("--bucket", default="dgbox-bench-submit")
    parser.add_argument("--_queries", help=argparse.SUPPRESS)
    parser.add_argument("--_root", help=argparse.SUPPRESS)
    parser.add_argument("--_host", help=argparse.SUPPRESS)
    parser.add_argument("--_token", help=argparse.SUPPRESS)
    parser.add_argument("--_verify", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._queries:
        print(queries_here(args._queries, args._root, args._host, args._token))
        return 0
    if args._verify:
        print(json.dumps(verify_here(args._verify)))
        return 0
    if not os.environ.get("REDIS_URL") or not os.environ.get("DGBOX_S3_ENDPOINT_URL"):
        parser.error("needs REDIS_URL and an S3 endpoint: run it under `python -m "
                     "infra.localservices run --redis required --`")
    import redis

    begun = time.perf_counter()
    per_side = args.warm_up + args.rounds * args.per_round + 2  # +2: counted (below)
    # bench/submit.py's preparation, one tenant: migrate, launch, demo services, clear the
    # last run, make the drafts (its arguments: --tenants, --pdf-kb, --submit-drafts).
    args.tenants, args.submit_drafts = 1, 2 * per_side
    url = database_url(args.database, False)
    print(f"Preparing {args.database} and {2 * per_side} drafts (the first run launches the "
          "tenant)...", flush=True)
    drafts = django_step(args, url, "prepare")["drafts"][0]
    host = drafts[0]["host"]
    queue = redis.Redis.from_url(os.environ["REDIS_URL"])
    # Start from an empty queue: what an earlier, interrupted run left would be counted as
    # this run's receipts by the check at the end.
    queue.delete(QUEUE, *queue.scan_iter(f"{QUEUE}\x06\x16*"))
    plain_url = plain_database(args)
    logs = Path(os.environ.get("DGBOX_STATE_DIR") or ROOT / ".state")
    logs.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {side: {"rounds": [], "latencies": [], "errors": [],
                                       "cpu": {}, "tokens": []} for side in SIDES}
    with tempfile.TemporaryDirectory(prefix="dgbox-before-") as folder:
        roots = {"plain": ROOT, "before": export_before(args.before, Path(folder)),
                 "after": ROOT}
        urls = {"plain": plain_url, "before": url, "after": url}
        share = {"plain": [None] * per_side, "before": drafts[:per_side],
                 "after": drafts[per_side:]}
        counted, counted_tokens = {}, []
        for side in SIDES:
            tokens = [share[side].pop()["token"] for _ in range(2)] if share[side][0] else []
            counted[side] = count_queries(args, side, urls[side], roots[side], host, tokens)
            counted_tokens += tokens
        servers = {}
        try:
            for side in SIDES:
                servers[side] = Gunicorn(
                    side_env(args, side, urls[side], roots[side]),
                    logs / f"submit-step-{side}.log", workers=args.workers,
                    threads=args.threads, root=roots[side],
                    app=("bench.plain_submit.wsgi:application" if side == "plain"
                         else "dgbox.wsgi:application"))
            for side in SIDES:
                warm = drive(servers[side].port, share[side][:args.warm_up], args.clients, side)
                results[side]["errors"] += warm["errors"]
                results[side]["tokens"] += [t for _e, t in warm["done"] if t]
            load_before = os.getloadavg()
            for number in range(args.rounds):
                order = SIDES[number % 3:] + SIDES[:number % 3]
                for side in order:
                    first = args.warm_up + number * args.per_round
                    items = share[side][first:first + args.per_round]
                    database = args.plain_database if side == "plain" else args.database
                    meter = CpuMeter(servers[side], database, None)
                    start = meter.snapshot()
                    run = drive(servers[side].port, items, args.clients, side)
                    cpu = CpuMeter.delta(start, meter.snapshot())
                    mine = results[side]
                    mine["rounds"].append(len(run["done"]) / run["wall"])
                    mine["latencies"] += [e for e, _t in run["done"]]
                    mine["errors"] += run["errors"]
                    mine["tokens"] += [t for _e, t in run["done"] if t]
                    cpu["busy"] = cpu["wall"] * cpu.pop("machine busy %") / 100
                    for group, used in cpu.items():
                        mine["cpu"][group] = mine["cpu"].get(group, 0.0) + used
                    mine["cpu"]["submits"] = mine["cpu"].get("submits", 0) + len(run["done"])
                print(f"  round {number + 1}: " + ", ".join(
                    f"{side} {results[side]['rounds'][-1]:.0f}/s" for side in SIDES)
                    + f"; load {os.getloadavg()[0]:.1f}", flush=True)
            load_after = os.getloadavg()
        finally:
            for server in servers.values():
                server.stop()
    queued = queued_messages(queue, [QUEUE, *queue.scan_iter(f"{QUEUE}\x06\x16*")])
    queue.delete(QUEUE, *queue.scan_iter(f"{QUEUE}\x06\x16*"))
    submitted = results["before"]["tokens"] + results["after"]["tokens"] + counted_tokens
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as given:
        json.dump({"host": host, "submitted": submitted}, given)
    check = json.loads(subprocess.run(
        [sys.executable, __file__, "--_verify", given.name], env=side_env(args, "after", url,
                                                                          ROOT),
        cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
    os.unlink(given.name)
    check["queued"] = queued
    check["ok"] = (check["cases"] == len(submitted) == check["cases_of_submitted"]
                   and check["receipts"] == 2 * check["cases"] == queued
                   and not any(r["errors"] for r in results.values()))
    summary = report(args, results, counted, (load_before, load_after), check)
    out = ROOT / "bench" / "results" / "submit_step.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**summary, "seconds": time.perf_counter() - begun},
                              indent=2, ensure_ascii=False))
    print(f"Written to {out.relative_to(ROOT)}")
    return 0 if check["ok"] else 1


def verify_here(path: str) -> dict:
    """Cases of the tenant against the drafts submitted: one each, two receipts each."""
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    from services.models import Case
    from services.notifications.models import Message
    from tenants.models import Domain

    given = json.loads(Path(path).read_text())
    with tenant_context(Domain.objects.get(domain=given["host"]).tenant):
        return {"cases": Case.objects.count(),
                "cases_of_submitted": Case.objects.filter(
                    submission_key__in=given["submitted"]).count(),
                "receipts": Message.objects.filter(key="application_received").count()}


def report(args, results, counted, loads, check) -> dict:
    print(f"\nThe submit step, {args.rounds} rounds x {args.per_round} submits per side "
          f"(interleaved, order rotated), gunicorn {args.workers}x{args.threads} gthread, "
          f"{args.clients} clients, {os.cpu_count()} CPUs shared with other work; load "
          f"average {loads[0][0]:.1f} before, {loads[1][0]:.1f} after")
    header = ("side", "submits/s (median round)", "overall", "p50 ms", "p99 ms",
              "app CPU ms", "SQL CPU ms", "SQL statements", "redis ms", "client ms",
              "machine busy", "errors")
    print(" | ".join(header))
    rows = {}
    for side in SIDES:
        mine = results[side]
        cpu, n = mine["cpu"], max(1, mine["cpu"].get("submits", 0))
        row = {
            "per_second_median": statistics.median(mine["rounds"]),
            "per_second_rounds": mine["rounds"],
            "per_second_overall": n / cpu["wall"],
            "p50_ms": 1000 * percentile(mine["latencies"], 0.5),
            "p99_ms": 1000 * percentile(mine["latencies"], 0.99),
            "app_cpu_ms": 1000 * cpu["gunicorn"] / n,
            "sql_cpu_ms": 1000 * cpu["postgres"] / n,
            "sql_statements": counted[side],
            "redis_cpu_ms": 1000 * cpu["redis"] / n,
            "client_cpu_ms": 1000 * cpu["client"] / n,
            "rest_of_machine_cpu_ms": 1000 * cpu["rest of machine"] / n,
            "machine_busy_pct": 100 * cpu["busy"] / cpu["wall"],
            "errors": len(mine["errors"]), "error_samples": mine["errors"][:3],
        }
        rows[side] = row
        print(" | ".join([side, f"{row['per_second_median']:.1f}",
                          f"{row['per_second_overall']:.1f}", f"{row['p50_ms']:.0f}",
                          f"{row['p99_ms']:.0f}", f"{row['app_cpu_ms']:.1f}",
                          f"{row['sql_cpu_ms']:.1f}", str(row["sql_statements"]),
                          f"{row['redis_cpu_ms']:.1f}", f"{row['client_cpu_ms']:.1f}",
                          f"{row['machine_busy_pct']:.0f}%", str(row["errors"])]))
    print(f"Checked: {check['cases']} cases for {check['cases_of_submitted']} drafts "
          f"submitted (one each), {check['receipts']} receipts, {check['queued']} receipts in the "
          f"broker's tasks: {'ok' if check['ok'] else 'NOT OK'}")
    return {"rounds": args.rounds, "per_round": args.per_round, "clients": args.clients,
            "gunicorn": f"{args.workers}x{args.threads} gthread", "cpus": os.cpu_count(),
            "load_average_before": loads[0], "load_average_after": loads[1],
            "before": args.before, "sides": rows, "verification": check}


if __name__ == "__main__":
    sys.exit(main())
