"""Tenant launch time: stock django-tenants versus dgbox, in the same run, same database.

    python bench/tenant_launch.py [--n 20] [--present 0] [--modes ...]
    python bench/tenant_launch.py --burst 20 [--rounds 2] [--present 0]

Modes (N rounds, each launching one tenant per mode in an order rotated from round to round,
so the machine's load falls on every mode alike; the tenants are dropped untimed at the end):
  stock-migrate   django-tenants default: CREATE SCHEMA, then every migration for the schema
  stock-clone     django-tenants TENANT_BASE_SCHEMA: clone_schema() PL/pgSQL copy of the
                  template, then `migrate_schemas --fake` for the new schema
  dgbox-snapshot  dgbox with no spare schema ready: the template's pg_dump snapshot replayed
                  under the new name, in the launch transaction
  dgbox-spare     dgbox with a spare ready (the normal case: the pool is topped up after each
                  launch; the top-up is timed separately and reported, not counted)
  dgbox-unprepared  dgbox-spare, but the spare's prepared Wagtail site removed (untimed)
                  first, so the launch builds it page by page: the site creation before the
                  site was prepared in the template (about 230 queries instead of 50)
Every mode does the same work after the schema exists (Wagtail site, home and default pages,
first administrator), so the difference is the schema creation path.

--burst B launches B tenants back to back, as a region bringing its municipalities on board
does, with the pool topped up meanwhile by a worker process as in production (a process that
runs the `tenants.replenish_spares` task body whenever it is done, i.e. a worker that always
has one queued): p50 and p95 of the B launches and how many found a spare. Two sides,
interleaved over --rounds rounds, the order rotated:
  fixed     the pool of DGBOX_SPARE_SCHEMAS (2) spares, as before DGBOX_SPARE_SCHEMAS_MAX
  adaptive  the pool sized from the launches of the last hour (`spares.pool_size()`)
Each burst starts from the side's steady pool (filled or trimmed untimed, the worker stopped).

--present K first makes sure K tenants exist (launched the dgbox way and kept between runs),
to show launch time with a large fleet present. Figures are printed and written to
bench/results/tenant_launch.json. Run it on an otherwise idle machine; it is a measurement,
never a test.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.dev")
os.environ.setdefault("DGBOX_LOG_LEVEL", "ERROR")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import override_settings  # noqa: E402
from django_tenants.utils import schema_context  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402
from wagtail.models import Page, Site  # noqa: E402

from tenants.bootstrap import ensure_public_tenant  # noqa: E402
from tenants.launch import LaunchRequest, launch_tenant, provisioning, spares, template  # noqa: E402
from tenants.launch.tasks import replenish_spares  # noqa: E402
from tenants.models import Domain, SpareSchema, Tenant  # noqa: E402
from tenants.signals import template_migrated, tenant_launched  # noqa: E402

console = Console(highlight=False)
MODES = ["stock-migrate", "stock-clone", "dgbox-snapshot", "dgbox-spare", "dgbox-unprepared"]


def stock_launch(slug: str, clone: bool) -> float:
    """What django-tenants' TenantMixin.save() does with auto_create_schema, plus the same
    site and administrator dgbox creates."""
    started = time.perf_counter()
    connection.set_schema_to_public()
    tenant = Tenant.objects.create(schema_name=slug.replace("-", "_"), slug=slug, name=slug,
                                   kind=Tenant.Kind.REGION, status=Tenant.Status.ACTIVE)
    domain = f"{slug}.bench.localhost"
    Domain.objects.create(domain=domain, tenant=tenant)
    overrides = {"TENANT_CREATION_FAKES_MIGRATIONS": clone,
                 "TENANT_BASE_SCHEMA": template.TEMPLATE_SCHEMA if clone else None}
    with override_settings(**overrides):
        tenant.create_schema(check_if_exists=True, verbosity=0)
    with schema_context(tenant.schema_name):
        if not clone:  # migrations re-create Wagtail's "Welcome" page and default site
            template_migrated.send(sender=Tenant, schema_name=tenant.schema_name)
        tenant_launched.send(sender=Tenant, tenant=tenant, options={"domain": domain})
        get_user_model().objects.create_user(username="a@b.example", email="a@b.example",
                                             is_staff=True, is_superuser=True)
    return time.perf_counter() - started


def dgbox_launch(slug: str) -> float:
    return dgbox_launch_result(slug).seconds


def dgbox_launch_result(slug: str):
    return launch_tenant(LaunchRequest(name=slug, kind="region", slug=slug,
                                       domain=f"{slug}.bench.localhost",
                                       admin_email="a@b.example"))


BURST_SIDES = {"fixed": "DGBOX_SPARE_SCHEMAS", "adaptive": "DGBOX_SPARE_SCHEMAS_MAX"}


def run_refiller() -> None:
    """--refiller: the production top-up in a process of its own, a worker that always has a
    `tenants.replenish_spares` task queued. Stopped by the parent (SIGTERM)."""
    print("ready", flush=True)
    while True:
        replenish_spares()  # the task's own body, as a worker runs it
        time.sleep(0.05)


def _side_ceiling(side: str) -> int:
    return int(getattr(settings, BURST_SIDES[side]))


def _steady_pool(ceiling: int) -> int:
    """Untimed: the pool as it stands between bursts for this side (filled to its size, any
    extra spares of the other side dropped). Returns its size."""
    with override_settings(DGBOX_SPARE_SCHEMAS_MAX=ceiling):
        target = spares.pool_size()
        spares.fill_pool(target)
    for spare in SpareSchema.objects.order_by("-pk")[target:]:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {spare.schema_name} CASCADE")
        spare.delete()
    return SpareSchema.objects.count()


def run_bursts(size: int, rounds: int) -> list[dict]:
    """`rounds` rounds of one burst of `size` launches per side, the order rotated."""
    sides = list(BURST_SIDES)
    slugs = {side: [[f"burst-{side}-{r}-{i:03d}" for i in range(size)] for r in range(rounds)]
             for side in sides}
    everything = [slug for side in sides for burst in slugs[side] for slug in burst]
    drop(everything)
    results: dict[str, dict[str, list]] = {
        side: {"times": [], "cpu": [], "spare": [], "pool": [], "loads": []} for side in sides}
    for r in range(rounds):
        for side in sides[r % len(sides):] + sides[:r % len(sides)]:
            ceiling = _side_ceiling(side)
            pool = _steady_pool(ceiling)
            env = {**os.environ, "DGBOX_SPARE_SCHEMAS_MAX": str(ceiling)}
            worker = subprocess.Popen(
                [sys.executable, __file__, "--refiller"], env=env, stdout=subprocess.PIPE,
                text=True)
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
            load = os.getloadavg()[0]
            found = 0
            try:
                for slug in slugs[side][r]:
                    started_cpu = time.process_time()
                    result = dgbox_launch_result(slug)
                    results[side]["cpu"].append(time.process_time() - started_cpu)
                    results[side]["times"].append(result.seconds)
                    found += result.method == "spare schema"
            finally:
                worker.terminate()
                worker.wait()
            results[side]["spare"].append(found)
            results[side]["pool"].append(pool)
            results[side]["loads"].append(load)
            burst = results[side]["times"][-size:]
            console.print(f"round {r + 1} {side}: pool {pool} at the start, {found}/{size} "
                          f"found a spare, p50 {statistics.median(burst):.3f} s, "
                          f"p95 {_p95(burst):.3f} s, load {load:.2f}")
    drop(everything)
    _cleanup_orphan_spares()
    return [{"side": side, "bursts": rounds, "size": size,
             "median": statistics.median(results[side]["times"]),
             "p95": _p95(results[side]["times"]),
             "cpu_median": statistics.median(results[side]["cpu"]),
             "found_spare": results[side]["spare"], "pool_at_start": results[side]["pool"],
             "load_averages": [round(x, 2) for x in results[side]["loads"]]}
            for side in sides]


def drop(slugs):
    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(slug__in=slugs):
        with connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {tenant.schema_name} CASCADE")
        tenant.domains.all().delete()
        tenant.delete()


def ensure_present(count: int):
    have = Tenant.objects.launched().count()
    if have >= count:
        return
    with Progress(console=console) as progress:
        task = progress.add_task(f"Filling the fleet to {count} tenants", total=count - have)
        for i in range(have, count):
            dgbox_launch(f"fleet-{i:05d}")
            progress.advance(task)


def run_interleaved(modes: list[str], n: int) -> list[dict]:
    """N rounds; each launches one tenant per mode, the order rotated from round to round, so a
    change in the machine's load hits every mode alike. Wall time and this process's CPU time
    (not the PostgreSQL server's) per launch; the load average is kept per round."""
    slugs = {mode: [f"bench-{mode.split('-', 1)[1]}-{i:03d}" for i in range(n)] for mode in modes}
    drop([slug for names in slugs.values() for slug in names])
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    cpu: dict[str, list[float]] = {mode: [] for mode in modes}
    refills: list[float] = []
    loads: list[float] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("launches", total=n * len(modes))
        for i in range(n):
            loads.append(os.getloadavg()[0])
            for mode in modes[i % len(modes):] + modes[:i % len(modes)]:
                # Untimed: every mode starts with the pool at its floor (not the size grown
                # from the bench's own launches, which the snapshot mode would drop each round).
                spares.fill_pool(settings.DGBOX_SPARE_SCHEMAS)
                if mode == "dgbox-snapshot":
                    SpareSchema.objects.all().delete()  # leaves schemas; dropped below
                if mode == "dgbox-unprepared":
                    _unprepare_next_spare()
                started_cpu = time.process_time()
                if mode.startswith("stock"):
                    times[mode].append(stock_launch(slugs[mode][i], clone=mode == "stock-clone"))
                else:
                    times[mode].append(dgbox_launch(slugs[mode][i]))
                cpu[mode].append(time.process_time() - started_cpu)
                if mode == "dgbox-snapshot":
                    _cleanup_orphan_spares()
                if mode == "dgbox-spare":
                    started = time.perf_counter()
                    spares.fill_pool(settings.DGBOX_SPARE_SCHEMAS)
                    refills.append(time.perf_counter() - started)
                progress.advance(task)
    drop([slug for names in slugs.values() for slug in names])
    return [{"mode": mode, "n": n, "median": statistics.median(times[mode]),
             "p95": _p95(times[mode]), "mean": statistics.fmean(times[mode]),
             "cpu_median": statistics.median(cpu[mode]),
             "refill_median": (statistics.median(refills)
                               if mode == "dgbox-spare" and refills else None),
             "load_average_median": round(statistics.median(loads), 2)}
            for mode in modes]


def _unprepare_next_spare():
    """Untimed: remove the prepared site from the spare the next launch claims, as
    `scrub_template` did before sites were prepared."""
    spare = SpareSchema.objects.order_by("pk").first()
    if spare is None:
        return
    with schema_context(spare.schema_name):
        Site.objects.all().delete()
        for page in Page.objects.filter(depth=2):
            page.delete()
    connection.set_schema_to_public()


def _p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _cleanup_orphan_spares():
    """dgbox-snapshot forgets spares without dropping them: drop what no row points to."""
    known = set(SpareSchema.objects.values_list("schema_name", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dgbox\\_spare\\_%'")
        for (name,) in cursor.fetchall():
            if name not in known:
                cursor.execute(f"DROP SCHEMA {name} CASCADE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20, help="tenants launched per mode")
    parser.add_argument("--present", type=int, default=0,
                        help="make sure this many tenants exist before measuring")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=MODES)
    parser.add_argument("--burst", type=int, default=0,
                        help="launch this many back to back per side instead (see above)")
    parser.add_argument("--rounds", type=int, default=2, help="bursts per side (--burst)")
    parser.add_argument("--refiller", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.refiller:
        run_refiller()
        return

    with console.status("Migrating the benchmark database and refreshing the template..."):
        # The public schema only, then the template (what `dgbox migrate` does after the
        # tenants): tenants present are the fleet's, migrated already; a no-op migrate of
        # each would take a second a tenant with a thousand present.
        call_command("migrate", schema_name="public", interactive=False, verbosity=0)
        ensure_public_tenant()
        template.refresh_template()
    ensure_present(args.present)
    # From here the bench tops the pool up itself (untimed, or in the refiller process with
    # --burst): the launches' own top-up after commit would count in their CPU time.
    provisioning._replenish_spares = lambda: None
    migrations = len(template.expected_migration_keys())
    present = Tenant.objects.launched().count()
    console.print(f"{present} tenants present, {migrations} tenant migrations, "
                  f"PostgreSQL {connection.pg_version // 10000}, N={args.n} per mode")

    console.print(f"Load average {os.getloadavg()[0]:.2f} at the start (shared machine)")
    if args.burst:
        report_bursts(run_bursts(args.burst, args.rounds), present, migrations)
        return
    results = run_interleaved(args.modes, args.n)
    _cleanup_orphan_spares()
    spares.fill_pool()

    baseline = {r["mode"]: r for r in results}
    table = Table(title=f"Tenant launch, {present} tenants present, N={args.n}",
                  title_justify="left")
    for column in ("mode", "median s", "p95 s", "mean s", "CPU median s",
                   "stock-migrate / mode", "stock-clone / mode"):
        table.add_column(column, justify="right" if column != "mode" else "left")
    for r in results:
        ratios = [
            f"{baseline[b]['median'] / r['median']:.1f}x" if b in baseline else "-"
            for b in ("stock-migrate", "stock-clone")
        ]
        table.add_row(r["mode"], f"{r['median']:.3f}", f"{r['p95']:.3f}", f"{r['mean']:.3f}",
                      f"{r['cpu_median']:.3f}", *ratios)
    console.print(table)
    spare = baseline.get("dgbox-spare")
    if spare and spare["refill_median"] is not None:
        console.print(f"Pool top-up after each dgbox-spare launch (not part of the launch, "
                      f"runs after commit): median {spare['refill_median']:.3f} s")
    out = ROOT / "bench" / "results" / "tenant_launch.json"
    out.parent.mkdir(exist_ok=True)
    console.print(f"Load average {os.getloadavg()[0]:.2f} at the end")
    out.write_text(json.dumps({"present": present, "migrations": migrations, "n": args.n,
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "results": results}, indent=2))
    console.print(f"Written to {out.relative_to(ROOT)}")


def report_bursts(results: list[dict], present: int, migrations: int) -> None:
    table = Table(title=f"Bursts of {results[0]['size']} launches, {present} tenants present, "
                  f"{results[0]['bursts']} per side", title_justify="left")
    for column in ("side", "p50 s", "p95 s", "CPU median s", "found a spare", "pool at start"):
        table.add_column(column, justify="right" if column != "side" else "left")
    for r in results:
        table.add_row(r["side"], f"{r['median']:.3f}", f"{r['p95']:.3f}",
                      f"{r['cpu_median']:.3f}", " ".join(map(str, r["found_spare"])),
                      " ".join(map(str, r["pool_at_start"])))
    console.print(table)
    console.print(f"Load average {os.getloadavg()[0]:.2f} at the end")
    out = ROOT / "bench" / "results" / "tenant_launch_burst.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"present": present, "migrations": migrations,
                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "results": results}, indent=2))
    console.print(f"Written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
