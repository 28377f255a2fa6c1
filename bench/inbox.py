"""The staff inbox at 100,000 cases: page latency and queries per request, and automatic
decisions per second.

    .venv/bin/python bench/inbox.py [--cases 100000] [--requests 50] [--proposed-indexes]
                                    [--fresh]

What runs: a database of its own (--database, created on the first run and kept; --fresh
drops it first, which migrates again and builds the template, a few minutes), with one tenant
(`inbox-bench`) that has the demo site, six online services, 25 members of staff and
--cases cases, written with PostgreSQL COPY in one go and replaced on every run so that each
run measures the same spread: 35% open (received / being reviewed / waiting for the
applicant, the clock stopped), mostly sent in the last month with a backlog of older ones,
65% closed (approved / refused / withdrawn) sent over the last year; deadlines 20 working days
after submission (about one open case in five overdue, flags set as the deadline job sets
them); 30% unassigned, the rest over 20 case workers; 70% online, 15% office, 10% phone, 5%
post; six services weighted 30/25/15/10/10/10; one "submitted" event per case and a status
event per closed one; the cases whose detail is measured also get a longer history, notes and
an automated decision.

Pages are requested in this process through Django's test Client (the whole middleware stack:
tenant routing, sessions, authentication, Wagtail's admin), logged in as a case worker,
DEBUG off, the per-process cache (REDIS_URL is ignored so that nothing reaches a shared
Redis). Each page is requested 3 times to warm up, then --requests times, timed; the queries
of one more request are counted (CaptureQueriesContext) and the slowest one is shown.
Wagtail's own admin home page is measured the same way, as the floor every admin page
stands on (sessions, permissions, the menu, the base template).

Automatic decisions: --decisions new cases of the building-permit service (a 3-rule JSON Logic
set: route tall buildings, approve small houses applied for online, refuse garages) run through
services.cases.engine.apply_rules, each in its own transaction as at submission; the tasks queued
after commit (receipt, decision letter) go to Celery's in-memory broker and are not run.

--proposed-indexes measures with the indexes proposed for services.Case (PROPOSED_INDEXES,
created in the benchmark's database only); without it they are dropped, so the figures are
those of the code as it stands. Figures are printed and written to bench/results/inbox.json
(inbox-proposed-indexes.json with the indexes). A measurement, never a test.
"""

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url  # noqa: E402

SLUG = "inbox-bench"
PREFIX = "BEN"
STAFF = 20
DETAIL_SAMPLE = 50
SERVICES = ["building-permit", "kindergarten-place", "street-trading", "birth-registration",
            "family-certificate", "housing-subsidy"]
SIMPLE = [{"type": "text", "name": "purpose", "label": "Цель обращения"},
          {"type": "choice", "name": "how", "label": "Как получить результат",
           "choices": ["Лично", "По почте", "Электронно"]}]
RULES = [
    {"name": "Высотное здание", "when": {">": [{"var": "floors"}, 10]}, "then": "route",
     "group": "Старшие специалисты"},
    {"name": "Небольшой дом, подано онлайн",
     "when": {"and": [{"<=": [{"var": "floors"}, 3]}, {"==": [{"var": "channel"}, "online"]}]},
     "then": "approve"},
    {"name": "Гараж", "when": {"in": ["Гараж", {"var": "object_name"}]}, "then": "refuse"},
]
FIRST = ["Анна", "Иван", "Мария", "Пётр", "Елена", "Сергей", "Ольга", "Дмитрий", "Наталья",
         "Алексей", "Татьяна", "Андрей", "Ирина", "Михаил", "Светлана", "Николай"]
LAST = ["Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Соколов", "Лебедев",
        "Козлов", "Новиков", "Морозов", "Волков", "Алексеев", "Фёдоров", "Михайлов"]
WOMEN = {"Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Светлана"}
LATIN = {"Анна": "anna", "Иван": "ivan", "Мария": "maria", "Пётр": "petr", "Елена": "elena",
         "Сергей": "sergey", "Ольга": "olga", "Дмитрий": "dmitry", "Наталья": "natalia",
         "Алексей": "alexey", "Татьяна": "tatiana", "Андрей": "andrey", "Ирина": "irina",
         "Михаил": "mikhail", "Светлана": "svetlana", "Николай": "nikolay"}


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- Preparing the tenant ---------------------------------------------------------------------


def prepare(console):
    """Migrate (once), launch the tenant (once), its services and staff (idempotent)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django_tenants.utils import tenant_context

    from cms.models import ServicePage
    from demo import forms as demo_forms
    from demo import site as demo_site
    from dgbox.celery import app
    from services.forms.blocks import stream_data_from_spec
    from services.models import OnlineService
    from services.workflows import spec as workflowspec
    from tenants.launch import LaunchRequest, launch_tenant
    from tenants.models import Tenant

    connection.set_schema_to_public()
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        with console.status("Migrating the benchmark database and building the template "
                            "(first run only)..."):
            call_command("migrate", interactive=False, verbosity=0)
    app.conf.task_always_eager = True  # spare-pool top-up after the launch: here, now
    tenant = Tenant.objects.filter(slug=SLUG).first()
    if tenant is None:
        with console.status("Launching the tenant..."):
            launch_tenant(LaunchRequest(name="Инбокс-бенч", kind="region", slug=SLUG,
                                        admin_email=f"admin@{SLUG}.example"))
        tenant = Tenant.objects.get(slug=SLUG)
    with tenant_context(tenant):
        if not ServicePage.objects.filter(slug="building-permit").exists():
            with console.status("Writing the demo site..."):
                demo_site.populate("ru")
        demo_forms.populate("ru")
        for slug in SERVICES:
            page = ServicePage.objects.get(slug=slug, locale__language_code="ru")
            if not OnlineService.objects.filter(page=page).exists():
                OnlineService.objects.create(page=page, form=stream_data_from_spec(SIMPLE))
        permit = OnlineService.objects.get(page__slug="building-permit")
        permit.rules = RULES
        permit.clean()  # the rules are checked as the admin checks them
        permit.save()
        workers, _ = Group.objects.get_or_create(name=workflowspec.STAFF_GROUP)
        workers.permissions.add(Permission.objects.get(codename="access_admin"),
                                Permission.objects.get(codename="view_case",
                                                       content_type__app_label="services"))
        User = get_user_model()
        staff = []
        for i in range(STAFF + 5):  # 5 more who can see cases but hold none
            first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
            user, _ = User.objects.get_or_create(
                username=f"worker{i:02d}", defaults={"first_name": first, "last_name": last,
                                                      "email": f"worker{i:02d}@{SLUG}.example"})
            user.groups.add(workers)
            staff.append(user)
        services = list(OnlineService.objects.order_by("id"))
    connection.set_schema_to_public()
    return tenant, services, staff[:STAFF]


#: Indexes proposed for services.Case (as Meta.indexes), created here in the benchmark's own
#: database with --proposed-indexes to measure them; without it they are dropped.
# Indexes under trial, {name: definition after "ON services_case"}. The partial inbox indexes
# and the trigram search indexes tried here are now in services' migrations (0003, 0005).
PROPOSED_INDEXES: dict[str, str] = {}


def set_indexes(tenant, wanted, console):
    from django.db import connection
    from django_tenants.utils import tenant_context

    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                       "AND indexname LIKE 'bench\\_%%'")
        for (name,) in cursor.fetchall():  # left by runs of earlier trials
            if not wanted or name not in PROPOSED_INDEXES:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        for name, definition in PROPOSED_INDEXES.items():
            if wanted:
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON services_case "
                               f"{definition}")
            else:
                cursor.execute(f"DROP INDEX IF EXISTS {name}")
        cursor.execute("VACUUM ANALYZE services_case")
    console.print("Proposed indexes: " + ("created" if wanted else "absent (as the code "
                                                                   "stands)"))


def _copy(table, columns, rows):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")  # django-tenants sets the tenant's search path here
    raw = connection.connection  # the psycopg connection, now on that search path
    with raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def fill(tenant, services, staff, count, console, seed=42):
    """Replace the tenant's cases with `count` new ones (COPY), spread as real ones are."""
    from django.db import connection, transaction
    from django_tenants.utils import tenant_context
    from psycopg.types.json import Jsonb

    from services.cases import sla
    from services.models import Workflow

    rng = random.Random(seed)  # noqa: S311 - a reproducible spread, not a secret
    started = time.perf_counter()
    with tenant_context(tenant), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE services_case, django_session RESTART IDENTITY CASCADE")
        version = Workflow.default().current_version()
        forms = {s.pk: s.current_version().pk for s in services}
        permit = next(s for s in services if s.page.slug == "building-permit")
        today = date.today()
        now = datetime.now(UTC)
        holidays = sla.holidays()
        cases, events = [], []
        for n in range(1, count + 1):
            service = rng.choices(services, weights=[30, 25, 15, 10, 10, 10])[0]
            closed_at = paused = None
            if rng.random() < 0.35:  # open: mostly recent, a backlog of older ones
                age = rng.randint(0, 30) if rng.random() < 0.85 else rng.randint(30, 120)
                status = rng.choices(["received", "in_review", "more_info"], [35, 50, 15])[0]
            else:
                age = rng.randint(1, 365)
                status = rng.choices(["approved", "refused", "withdrawn"], [70, 20, 10])[0]
            submitted = now - timedelta(days=age, seconds=rng.randint(0, 86_400))
            due = sla.add_working_days(submitted.date(), 20, holidays)
            if status in ("approved", "refused", "withdrawn"):
                closed_at = min(now, submitted + timedelta(days=rng.randint(1, 30)))
            elif status == "more_info":
                paused = today - timedelta(days=rng.randint(0, 10))
            flag = "" if closed_at or paused else sla.flag(due, today, holidays)
            first, last = rng.choice(FIRST), rng.choice(LAST)
            name = f"{first} {last}{'а' if first in WOMEN else ''}"
            email = f"{LATIN[first]}.{n}@example.org" if rng.random() < 0.9 else ""
            if service.pk == permit.pk:
                answers = {"object_name": rng.choice(["Жилой дом", "Баня", "Гараж"]),
                           "floors": str(rng.randint(1, 5)),
                           "site": {"line1": "ул. Садовая, 5", "town": "Рябиновка",
                                    "postcode": "101000"}}
            else:
                answers = {"purpose": "Для предъявления по месту требования", "how": "Лично"}
            assignee = rng.choice(staff).pk if rng.random() < 0.7 else None
            channel = rng.choices(["online", "office", "phone", "post"], [70, 15, 10, 5])[0]
            cases.append((n, f"{PREFIX}-{submitted.year}-{n:06d}", uuid.uuid4(), service.pk,
                          forms[service.pk], Jsonb(answers), name, email,
                          "+7 900 000-00-00" if not email else "", "ru", channel, status,
                          version.pk, "", assignee, due, paused, flag, "", closed_at,
                          submitted, closed_at or submitted))
            events.append((n, "submitted", "applicant", True, Jsonb({"channel": channel,
                                                                     "form_version": 1}),
                           submitted))
            if closed_at:
                events.append((n, "status", "staff", True, Jsonb(
                    {"from": "in_review", "to": status, "transition": {
                        "approved": "approve", "refused": "refuse",
                        "withdrawn": "withdraw"}[status], "automatic": False, "with": []}),
                    closed_at))
        _copy("services_case",
              ["id", "reference", "submission_key", "service_id", "form_version_id", "answers",
               "applicant_name", "applicant_email", "applicant_phone", "language", "channel",
               "status", "workflow_version_id", "\"group\"", "assignee_id", "due_date",
               "paused_since", "sla_flag", "decision_reason", "closed_at", "submitted_at",
               "updated_at"], cases)
        _copy("services_caseevent", ["case_id", "kind", "actor_role", "public", "data", "at"],
              events)
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('services_case', 'id'), %s)",
                           [count])
            cursor.execute("SELECT setval('services_case_reference_seq', %s)", [count])
    copy_seconds = time.perf_counter() - started
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE services_case")  # as autovacuum would, after a load
        cursor.execute("VACUUM ANALYZE services_caseevent")
    console.print(f"Wrote {count:,} cases and {len(events):,} events with COPY in "
                  f"{copy_seconds:.1f} s")
    return copy_seconds, len(events)


def enrich(tenant, staff, rng):
    """The cases whose detail is measured get a longer history, notes and a decision."""
    from django.db import transaction
    from django_tenants.utils import tenant_context

    from services.models import AutomatedDecision, Case, CaseEvent, CaseNote

    with tenant_context(tenant), transaction.atomic():
        ids = list(Case.objects.filter(closed_at__isnull=True)
                   .order_by("id").values_list("id", flat=True)[:DETAIL_SAMPLE * 20:20])
        for pk in ids:
            who = rng.choice(staff)
            CaseEvent.objects.bulk_create(
                [CaseEvent(case_id=pk, kind="assigned", actor=who, actor_role="staff",
                           data={"assignee": rng.choice(staff).pk}) for _ in range(4)]
                + [CaseEvent(case_id=pk, kind="note", actor=who, actor_role="staff",
                             data={}) for _ in range(3)])
            CaseNote.objects.bulk_create(
                [CaseNote(case_id=pk, author=who, text="Позвонил заявителю, уточнил адрес.")
                 for _ in range(3)]
                + [CaseNote(case_id=pk, text="Прошу уточнить кадастровый номер.",
                            kind="request", author=who)])
            AutomatedDecision.objects.create(case_id=pk, rule_name=RULES[0]["name"],
                                             rule=RULES[0], inputs={"floors": 12},
                                             outcome="route:Старшие специалисты")
        return ids


# --- Measuring pages --------------------------------------------------------------------------


def measure_pages(tenant, staff, detail_ids, requests, console, rng):
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import tenant_context

    from services.models import Case

    host = tenant.primary_domain
    client = Client(HTTP_HOST=host)
    me = staff[0]
    with tenant_context(tenant):
        client.force_login(me)
        references = list(Case.objects.order_by("?").values_list("reference", flat=True)[:50])
        permit = Case.objects.filter(service__page__slug="building-permit").first().service_id
    connection.set_schema_to_public()

    scenarios = [
        ("baseline: Wagtail's admin home, for scale", lambda i: "/admin/"),
        ("inbox, default (open, by due date)", lambda i: "/admin/cases/"),
        ("filter: overdue", lambda i: "/admin/cases/?deadline=overdue"),
        ("filter: service + unassigned + in review",
         lambda i: f"/admin/cases/?service={permit}&assignee=none&status=in_review"),
        ("filter: assigned to me", lambda i: "/admin/cases/?assignee=me"),
        ("search: full reference", lambda i: f"/admin/cases/?q={references[i % 50]}&closed=all"),
        ("search: applicant name (icontains)", lambda i: "/admin/cases/?q=Сидоров&closed=all"),
        ("page 2000 (open and closed)", lambda i: "/admin/cases/?closed=all&p=2000"),
        ("case detail", lambda i: f"/admin/cases/{detail_ids[i % len(detail_ids)]}/"),
    ]
    results = []
    for name, url in scenarios:
        with console.status(f"Measuring {name}..."):
            for i in range(3):
                response = client.get(url(i))
                if response.status_code != 200:
                    raise SystemExit(f"{url(i)} answered {response.status_code}")
            times, cpu = [], []
            for i in range(requests):
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(url(i))
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                assert response.status_code == 200, (url(i), response.status_code)
            # Two requests, the one with fewer queries kept: the routing's host cache
            # (DGBOX_TENANT_CACHE_SECONDS) is refreshed now and then with 3 more queries.
            samples = []
            for extra in (requests, requests + 1):
                with CaptureQueriesContext(connection) as captured:
                    client.get(url(extra))
                samples.append(captured)
            captured = min(samples, key=len)
            slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
            db_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        rows = response.content.decode().count('name="case"')
        results.append({
            "page": name, "url": url(0), "p50_ms": statistics.median(times) * 1000,
            "p95_ms": percentile(times, 0.95) * 1000, "max_ms": max(times) * 1000,
            "cpu_p50_ms": statistics.median(cpu) * 1000,
            "queries": len(captured), "db_ms": db_ms, "rows_shown": rows,
            "slowest_query_ms": float(slowest["time"]) * 1000,
            "slowest_query": slowest["sql"][:400],
        })
        console.print(f"  {name}: p50 {results[-1]['p50_ms']:.1f} ms, "
                      f"{len(captured)} queries")
    return results


# --- Automatic decisions ----------------------------------------------------------------------


def measure_rules(tenant, services, count, console, rng):
    from collections import Counter

    from django.db import connection, transaction
    from django_tenants.utils import tenant_context
    from psycopg.types.json import Jsonb

    from dgbox.celery import app
    from services.cases import engine
    from services.models import AutomatedDecision, Case, Workflow

    permit = next(s for s in services if s.page.slug == "building-permit")
    app.conf.task_always_eager = False  # queued to the in-memory broker, not run
    with tenant_context(tenant):
        version = Workflow.default().current_version()
        form = permit.current_version().pk
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(id) FROM services_case")
            start = cursor.fetchone()[0] + 1
        now = datetime.now(UTC)
        rows = []
        for n in range(start, start + count):
            answers = {"object_name": rng.choice(["Жилой дом", "Баня", "Гараж", "Склад"]),
                       "floors": str(rng.choice([1, 2, 3, 4, 5, 8, 12, 16]))}
            rows.append((n, f"RUL-2026-{n:06d}", uuid.uuid4(), permit.pk, form, Jsonb(answers),
                         "Иван Петров", "", "+7 900 000-00-00", "ru",
                         rng.choices(["online", "office"], [80, 20])[0], "received",
                         version.pk, "", None, date.today() + timedelta(days=28), None, "",
                         "", None, now, now))
        with transaction.atomic():
            _copy("services_case",
                  ["id", "reference", "submission_key", "service_id", "form_version_id",
                   "answers", "applicant_name", "applicant_email", "applicant_phone",
                   "language", "channel", "status", "workflow_version_id", "\"group\"",
                   "assignee_id", "due_date", "paused_since", "sla_flag", "decision_reason",
                   "closed_at", "submitted_at", "updated_at"], rows)
            with connection.cursor() as cursor:
                cursor.execute("SELECT setval(pg_get_serial_sequence('services_case', 'id'), "
                               "%s)", [start + count - 1])
        ids = list(range(start, start + count))
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:  # warm up; count queries
            for pk in ids[:21]:
                with transaction.atomic():
                    engine.apply_rules(Case.objects.select_related(
                        "service", "form_version", "workflow_version").get(pk=pk))
        queries = len(captured) / 21
        with console.status(f"Applying rules to {count - 21} new cases..."):
            started = time.perf_counter()
            for pk in ids[21:]:
                with transaction.atomic():
                    case = Case.objects.select_related("service", "form_version",
                                                       "workflow_version").get(pk=pk)
                    engine.apply_rules(case)
            seconds = time.perf_counter() - started
        outcomes = Counter(AutomatedDecision.objects.filter(case_id__in=ids[21:])
                           .values_list("outcome", flat=True))
        undecided = (count - 21) - sum(outcomes.values())
    connection.set_schema_to_public()
    return {"cases": count - 21, "seconds": seconds, "per_second": (count - 21) / seconds,
            "ms_per_case": 1000 * seconds / (count - 21), "queries_per_case": queries,
            "outcomes": {**dict(outcomes), "no rule matched": undecided}}


# --- Main -----------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--decisions", type=int, default=1021,
                        help="new cases run through the rules (the first 21 warm up and "
                             "count queries)")
    parser.add_argument("--database", default="dgbox_bench_inbox")
    parser.add_argument("--bucket", default="dgbox-bench-inbox")
    parser.add_argument("--proposed-indexes", action="store_true",
                        help="measure with the indexes proposed for services.Case")
    parser.add_argument("--fresh", action="store_true",
                        help="drop the benchmark database first (migrates and launches again)")
    args = parser.parse_args()

    from infra.localservices import ensure_s3

    url = database_url(args.database, args.fresh)
    endpoint, access, secret = ensure_s3()  # `migrate` makes the bucket
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.base", "DATABASE_URL": url,
        "DGBOX_DEBUG": "0", "DGBOX_LOG_LEVEL": "ERROR", "EMAIL_URL": "dummymail://",
        "REDIS_URL": "", "DGBOX_S3_ENDPOINT_URL": endpoint, "DGBOX_S3_ACCESS_KEY": access,
        "DGBOX_S3_SECRET_KEY": secret, "DGBOX_S3_BUCKET": args.bucket,
        "DGBOX_SPARE_SCHEMAS": "0",
    })
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    rng = random.Random(7)  # noqa: S311
    tenant, services, staff = prepare(console)
    copy_seconds, event_count = fill(tenant, services, staff, args.cases, console)
    detail_ids = enrich(tenant, staff, rng)
    set_indexes(tenant, args.proposed_indexes, console)
    pages = measure_pages(tenant, staff, detail_ids, args.requests, console, rng)
    rules = measure_rules(tenant, services, args.decisions, console, rng)

    table = Table(title=f"Staff inbox, one tenant with {args.cases:,} cases: "
                        f"{args.requests} requests per page (Django test Client, in-process)",
                  title_justify="left")
    for column in ("page", "p50 ms", "p95 ms", "CPU p50 ms", "queries/req", "SQL ms",
                   "slowest query ms", "rows"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for r in pages:
        table.add_row(r["page"], f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                      f"{r['cpu_p50_ms']:.1f}", str(r["queries"]), f"{r['db_ms']:.1f}",
                      f"{r['slowest_query_ms']:.1f}", str(r["rows_shown"]))
    console.print(table)
    console.print("p50/p95: wall time per request in this process (Django's whole stack, the "
                  "database on the same machine); CPU: this process's CPU time per request "
                  "(less disturbed by other load); SQL ms: the database time of one request; "
                  "rows: cases listed on the page.")
    load = os.getloadavg()
    console.print(f"Machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} "
                  f"/ {load[2]:.1f} (1/5/15 min) at the end.")
    for r in pages:
        if r["slowest_query_ms"] > 20:
            console.print(f"[yellow]{r['page']}[/]: slowest query {r['slowest_query_ms']:.0f} "
                          f"ms: {r['slowest_query'][:300]}")
    console.print(f"Automatic decisions: {rules['per_second']:.0f}/s "
                  f"({rules['ms_per_case']:.2f} ms per case, {rules['queries_per_case']:.1f} "
                  f"queries per case, {rules['cases']} cases, 3 rules); "
                  f"outcomes: {rules['outcomes']}")
    out = ROOT / "bench" / "results" / ("inbox-proposed-indexes.json" if args.proposed_indexes
                                        else "inbox.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({
        "cases": args.cases, "events": event_count, "copy_seconds": copy_seconds,
        "requests_per_page": args.requests, "python": platform.python_version(),
        "cpus": os.cpu_count(), "load_average": os.getloadavg(),
        "measured_at": datetime.now(UTC).isoformat(),
        "proposed_indexes": args.proposed_indexes, "pages": pages,
        "automatic_decisions": rules, "rules": RULES,
    }, indent=2, ensure_ascii=False))
    console.print(f"Written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
