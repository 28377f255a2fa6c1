"""The daily KPI job: how long computing one day takes per tenant and for a fleet.

    .venv/bin/python -m infra.localservices run -- .venv/bin/python bench/kpis.py \\
        [--tenants 20] [--cases 1000] [--database dgbox_bench_kpis] [--fresh]

What runs: a database of its own (--database, migrated and filled on the first run and kept;
--fresh drops it first) with --tenants tenants launched as operators launch them, each with
the demo site (12 service pages) and online forms on three of them. Each tenant gets --cases
cases on one day (2026-11-09, its time zone), written with one INSERT ... SELECT
generate_series into its schema, not through the web: channels 60% online, 20% at an office,
10% by phone, 10% by post; a third decided the same day (approved or refused, half of them
with a deadline; about one in three of them automatically, with its status event), plus page
feedback. Then, for every tenant one after the other, `compute_day` of that day (what the
daily job `kpis.compute_day` and `dgbox kpis compute` run in each tenant's schema), after
removing that day's stored rows so that each run computes from scratch (gauges measured,
rows inserted, the public copies written). Printed: total time, time per tenant (median,
p95, max), queries per tenant, and the load average. A measurement, never a test.

The console's KPI dashboard over the fleet is measured by bench/kpi_rollup.py.
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import migrate_once, setup_django  # noqa: E402

SLUG = "kpis-{:04d}"
DAY = datetime.date(2026, 11, 9)
SERVICES = ("building-permit", "kindergarten-place", "housing-subsidy")
SPEC = [{"type": "text", "name": "purpose", "label": "Purpose", "required": True}]

# One INSERT per tenant: n cases of the tenant's three services spread over the day.
CASES_SQL = """
INSERT INTO {schema}.services_case
    (reference, submission_key, service_id, form_version_id, answers, applicant_name,
     applicant_email, applicant_phone, language, channel, status, workflow_version_id,
     "group", due_date, sla_flag, decision_reason, submitted_at, updated_at, closed_at)
SELECT 'BK-2026-' || lpad(i::text, 7, '0'), gen_random_uuid(), s.service_id, s.version_id,
       '{{}}'::jsonb, '', '', '', 'ru',
       CASE WHEN i %% 10 < 6 THEN 'online' WHEN i %% 10 < 8 THEN 'office'
            WHEN i %% 10 = 8 THEN 'phone' ELSE 'post' END,
       CASE WHEN i %% 3 <> 0 THEN 'received' WHEN i %% 2 = 0 THEN 'approved' ELSE 'refused' END,
       %(workflow)s, '',
       CASE WHEN i %% 6 = 0 THEN %(day)s::date + (i %% 4) END, '', '',
       %(start)s::timestamptz + (i * interval '86399 seconds' / %(n)s),
       now(),
       CASE WHEN i %% 3 = 0 THEN %(start)s::timestamptz + (i * interval '86399 seconds' / %(n)s)
                               + interval '1 second' END
FROM generate_series(1, %(n)s) AS i
JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS k, service_id, id AS version_id
      FROM {schema}.services_formversion) AS s ON s.k = i %% %(services)s
"""
EVENTS_SQL = """
INSERT INTO {schema}.services_caseevent (case_id, kind, actor_role, public, data, at)
SELECT id, 'status', 'system', true,
       jsonb_build_object('from', 'received', 'to', status, 'automatic', true), closed_at
FROM {schema}.services_case WHERE closed_at IS NOT NULL AND id %% 3 = 0
"""
FEEDBACK_SQL = """
INSERT INTO {schema}.cms_pagefeedback (page_id, useful, comment, language, created_at)
SELECT page_id, i %% 4 <> 0, '', 'ru', %(start)s::timestamptz + i * interval '1 minute'
FROM generate_series(1, %(n)s / 20) AS i, {schema}.services_onlineservice
"""


def prepare(count, cases, console):
    from django.db import connection
    from django_tenants.utils import tenant_context
    from rich.progress import Progress

    from cms.models import ServicePage
    from demo.site import populate
    from services.cases.escalation import tenant_zone
    from services.forms.blocks import stream_data_from_spec
    from services.kpis.compute import day_bounds
    from services.models import Case, OnlineService, Workflow
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    migrate_once(console)
    have = set(Tenant.objects.filter(slug__startswith="kpis-").values_list("slug", flat=True))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Launching tenants, writing cases", total=count)
        for i in range(count):
            slug = SLUG.format(i)
            if slug not in have:
                launch_tenant(LaunchRequest(name=f"KPI {i}", kind="region", slug=slug,
                                            admin_email=f"admin@{slug}.example"))
            tenant = Tenant.objects.get(slug=slug)
            with tenant_context(tenant):
                populate("ru")
                for page_slug in SERVICES:
                    if not OnlineService.objects.filter(page__slug=page_slug).exists():
                        OnlineService(page=ServicePage.objects.get(slug=page_slug),
                                      form=stream_data_from_spec(SPEC)).save()
                if Case.objects.count() != cases:
                    Case.objects.all().delete()
                    start, _end = day_bounds(DAY, tenant_zone(tenant))
                    params = {"workflow": Workflow.default().current_version().pk,
                              "day": DAY, "start": start, "n": cases,
                              "services": len(SERVICES)}
                    schema = connection.ops.quote_name(tenant.schema_name)
                    with connection.cursor() as cursor:
                        for sql in (CASES_SQL, EVENTS_SQL, FEEDBACK_SQL):
                            cursor.execute(sql.format(schema=schema), params)
            progress.advance(task)
    connection.set_schema_to_public()
    return list(Tenant.objects.filter(slug__startswith="kpis-").order_by("slug")[:count])


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--cases", type=int, default=1000, help="cases per tenant")
    parser.add_argument("--database", default="dgbox_bench_kpis")
    parser.add_argument("--fresh", action="store_true", help="drop the database first")
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    setup_django(args.database, args.fresh, EMAIL_URL="dummymail://", REDIS_URL="",
                 DGBOX_SPARE_SCHEMAS="0")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context
    from rich.console import Console

    from services.kpis.compute import compute_day
    from services.kpis.models import KpiSnapshot
    from tenants.models import TenantKpi

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    tenants = prepare(args.tenants, args.cases, console)
    TenantKpi.objects.filter(day=DAY).delete()
    load_before = os.getloadavg()
    times, queries = [], []
    began = time.perf_counter()
    for tenant in tenants:
        with tenant_context(tenant):
            KpiSnapshot.objects.filter(day=DAY).delete()
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                row = compute_day(DAY)
            times.append(time.perf_counter() - t0)
            queries.append(len(captured))
    total = time.perf_counter() - began
    connection.set_schema_to_public()
    console.print(f"Daily KPI job, {len(tenants)} tenants x {args.cases:,} cases on {DAY}: "
                  f"total {total:.2f} s (setup of each tenant's context included)")
    console.print(f"Per tenant: median {statistics.median(times) * 1000:.0f} ms, p95 "
                  f"{percentile(times, .95) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
                  f"{statistics.median(queries):.0f} queries")
    cases = row.cases_online + row.cases_office + row.cases_phone + row.cases_post
    console.print(f"Last tenant's day: {cases:,} cases, {row.decided:,} decided, "
                  f"{row.decided_automatically:,} automatically, {row.page_views} views")
    console.print(f"Load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} "
                  f"(1 min; {os.cpu_count()} CPUs, {platform.python_version()})")


if __name__ == "__main__":
    main()
