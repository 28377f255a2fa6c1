"""National catalogue search: p50/p95 with 1,000 tenants x 30 services, through the real API
view and the portal page.

    .venv/bin/python -m infra.localservices run -- .venv/bin/python bench/catalogue.py \
        [--tenants 1000] [--services 30] [--requests 30] [--keep]

What runs: a database of its own (`dgbox_bench_catalogue`, dropped first and, unless --keep,
at the end) with the public schema only (`migrate --shared`), the national operator's row
for the base domain, --tenants tenant rows (one region in 20, the rest municipalities spread
over the regions) and --services index rows per tenant written straight into the index with
the ORM (PostgreSQL computes the generated search vector on insert, as for a publish).
Building 1,000 real tenants with sites is bench/fleet_scale.py's job, not this one's: the
tenants here have rows but no schema, which the search never reads.

Services are drawn from 30 real municipal services (Russian titles and summaries, 10% of
tenants in English), each with its life events; 40% can be applied for online. Queries are
what people type: Russian words in other forms than the indexed ones ("паспорта",
"детского сада"), English ("permits"), a prefix ("пасп", the fallback), a word found nowhere
(the fallback's worst case), and filters (life event, a region with its municipalities,
online) with and without text. Each is requested 3 times to warm up, then --requests times
through Django's test Client (the whole middleware stack, DEBUG off, per-process cache),
timed, with the time spent in SQL (median per request, measured around each query in this
process); the load average is printed. A measurement, never a test.
"""

import argparse
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_url  # noqa: E402

# (Russian title, Russian summary, English title, English summary, life events)
SERVICES = [
    ("Выдача паспорта гражданина", "Оформление и замена паспорта.", "Passport issue",
     "Get or replace your passport.", ["moving"]),
    ("Регистрация рождения", "Свидетельство о рождении ребёнка.", "Birth registration",
     "A birth certificate for your child.", ["birth"]),
    ("Запись в детский сад", "Очередь на место в детском саду.", "Kindergarten places",
     "Join the waiting list for a kindergarten place.", ["birth", "school"]),
    ("Зачисление в школу", "Приём ребёнка в первый класс.", "School enrolment",
     "A first-grade place for your child.", ["school"]),
    ("Разрешение на строительство", "Строительство и реконструкция.", "Building permits",
     "Permission to build or rebuild.", ["building"]),
    ("Ввод объекта в эксплуатацию", "Разрешение на ввод построенного здания.",
     "Occupancy permit", "Permission to use a new building.", ["building"]),
    ("Справка о составе семьи", "Справка для льгот и сделок с жильём.",
     "Household certificate", "A certificate for benefits and housing.", ["housing"]),
    ("Субсидия на оплату ЖКУ", "Компенсация платы за коммунальные услуги.",
     "Utility bill subsidy", "Help with utility bills.", ["housing", "low-income"]),
    ("Регистрация брака", "Подача заявления в ЗАГС.", "Marriage registration",
     "Register your marriage.", ["marriage"]),
    ("Пособие при рождении ребёнка", "Единовременная выплата родителям.",
     "Birth grant", "A one-off payment for a new baby.", ["birth", "low-income"]),
    ("Место для нестационарной торговли", "Киоск или павильон.", "Street trading licence",
     "A kiosk or stall licence.", ["start-business", "trade"]),
    ("Регистрация по месту жительства", "Регистрация по новому адресу.",
     "Address registration", "Register at your new address.", ["moving"]),
    ("Схема расположения земельного участка", "Утверждение схемы участка.",
     "Land plot layout", "Approval of a plot layout.", ["building"]),
    ("Парковочное разрешение для жителей", "Льготная парковка у дома.",
     "Resident parking permit", "Park near your home.", ["vehicle"]),
    ("Установка инвалидности: льготы", "Меры поддержки людей с инвалидностью.",
     "Disability support", "Support for disabled people.", ["disability"]),
    ("Назначение пенсии", "Оформление пенсии по старости.", "State pension",
     "Claim your state pension.", ["retirement"]),
    ("Место на кладбище", "Предоставление места для захоронения.", "Burial plot",
     "A plot at a municipal cemetery.", ["bereavement"]),
    ("Вывоз крупногабаритного мусора", "Заявка на вывоз мусора.", "Bulky waste collection",
     "Book a bulky waste collection.", ["housing"]),
    ("Ремонт дорог: обращение", "Сообщите о яме на дороге.", "Report a pothole",
     "Tell us about a road defect.", ["vehicle"]),
    ("Аренда муниципального помещения", "Аренда помещений для бизнеса.",
     "Renting council premises", "Rent premises for your business.", ["start-business"]),
    ("Выписка из реестра муниципального имущества", "Сведения об объекте.",
     "Municipal property extract", "Information about a council property.", ["housing"]),
    ("Разрешение на вырубку деревьев", "Порубочный билет.", "Tree felling permit",
     "Permission to cut down trees.", ["building"]),
    ("Перепланировка квартиры", "Согласование перепланировки.", "Flat alterations",
     "Approval to alter your flat.", ["housing"]),
    ("Учёт нуждающихся в жилье", "Очередь на социальное жильё.", "Social housing list",
     "Join the social housing waiting list.", ["housing", "low-income"]),
    ("Материальная помощь", "Разовая помощь в трудной ситуации.", "Hardship grant",
     "One-off help in hard times.", ["low-income"]),
    ("Летний отдых детей", "Путёвки в детские лагеря.", "Children's summer camps",
     "Summer camp vouchers.", ["school"]),
    ("Спортивные секции", "Запись в муниципальные секции.", "Sports clubs",
     "Join a council sports club.", ["school"]),
    ("Лицензия на торговлю алкоголем", "Розничная продажа алкоголя.", "Alcohol licence",
     "Sell alcohol in a shop.", ["trade", "start-business"]),
    ("Земельный участок многодетным семьям", "Бесплатный участок для семей.",
     "Land for large families", "A free plot for large families.", ["birth", "housing"]),
    ("Архивная справка", "Копии документов из архива.", "Archive certificate",
     "Copies of records from the archive.", ["retirement"]),
]
EXTRA = ["Документы: паспорт, СНИЛС, заявление.", "Срок — 10 рабочих дней.",
         "Бесплатно.", "Подайте заявление лично или онлайн."]
QUERIES = [
    ("паспорта (ru, other form)", {"q": "паспорта"}),
    ("детского сада (ru)", {"q": "детского сада"}),
    ("разрешения на строительство", {"q": "разрешения на строительство"}),
    ("справку о составе семьи", {"q": "справку о составе семьи"}),
    ("permits (en)", {"q": "permits"}),
    ("kindergarten place (en)", {"q": "kindergarten place"}),
    ("пасп (prefix fallback)", {"q": "пасп"}),
    ("абракадабра (no match)", {"q": "абракадабра"}),
    ("life event: birth", {"life_event": "birth"}),
    ("паспорт, with facets", {"q": "паспорт", "facets": "true"}),
    ("region (with municipalities)", {"territory": "region-007"}),
    ("online", {"online": "true"}),
    ("субсидии + region + online", {"q": "субсидии", "territory": "region-003",
                                    "online": "true"}),
    ("пособие + life event", {"q": "пособие", "life_event": "low-income"}),
    ("municipality, page 2", {"territory": "town-0500", "page": "2", "page_size": "10"}),
]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(tenants, services, console):
    from django.core.management import call_command
    from django.db import connection

    from tenants.bootstrap import ensure_public_tenant
    from tenants.models import CatalogueEntry, Tenant

    connection.set_schema_to_public()
    with console.status("Migrating the public schema..."):
        call_command("migrate", "--shared", "--skip-template", interactive=False, verbosity=0)
        ensure_public_tenant()
    rng = random.Random(16)  # noqa: S311 - the same fleet every run
    regions_n = max(1, tenants // 20)
    started = time.monotonic()
    with console.status(f"Writing {tenants:,} tenant rows and {tenants * services:,} "
                        "index rows..."):
        regions = Tenant.objects.bulk_create([
            Tenant(name=f"Область {i:03d}", slug=f"region-{i:03d}",
                   schema_name=f"region_{i:03d}", kind=Tenant.Kind.REGION,
                   status=Tenant.Status.ACTIVE, reference_prefix=f"R{i:03d}")
            for i in range(regions_n)])
        towns = Tenant.objects.bulk_create([
            Tenant(name=f"Город {i:04d}", slug=f"town-{i:04d}", schema_name=f"town_{i:04d}",
                   kind=Tenant.Kind.MUNICIPALITY, parent=regions[i % regions_n],
                   status=Tenant.Status.ACTIVE, reference_prefix=f"T{i:04d}")
            for i in range(tenants - regions_n)])
        now = datetime.now(UTC)
        rows = []
        for tenant in [*regions, *towns]:
            english = rng.random() < 0.1
            region = tenant.parent_id or tenant.pk
            for n in range(services):
                ru_t, ru_s, en_t, en_s, events = SERVICES[(n + tenant.pk) % len(SERVICES)]
                title, summary = (en_t, en_s) if english else (ru_t, ru_s)
                rows.append(CatalogueEntry(
                    tenant_id=tenant.pk, region_id=region, page_id=100 + n,
                    language="en" if english else "ru", title=f"{title}", summary=summary,
                    keywords=" ".join(rng.sample(EXTRA, 2)),
                    url=f"https://{tenant.slug}.gov.example/ru/services/s{n}/",
                    life_events=events, categories=[], online=rng.random() < 0.4,
                    updated_at=now))
        CatalogueEntry.objects.bulk_create(rows, batch_size=2000)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tenants_catalogueentry")
    return time.monotonic() - started


def measure(path, params, requests):
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    for _ in range(3):
        response = client.get(path, params)
        assert response.status_code == 200, (path, params, response.content[:300])
    sql_ms = []  # counted with a wrapper: Django clears connection.queries at each request

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_ms.append((time.perf_counter() - started) * 1000)

    times, per_request_sql = [], []
    with connection.execute_wrapper(timed):
        for _ in range(requests):
            sql_ms.clear()
            started = time.perf_counter()
            response = client.get(path, params)
            times.append((time.perf_counter() - started) * 1000)
            per_request_sql.append(sum(sql_ms))
            queries = len(sql_ms)
    count = response.json()["count"] if path.startswith("/api/") else None
    return times, queries, count, statistics.median(per_request_sql)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--services", type=int, default=30)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--database", default="dgbox_bench_catalogue")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    url = database_url(args.database, fresh=True)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "dgbox.settings.base", "DATABASE_URL": url,
        "DGBOX_DEBUG": "0", "DGBOX_LOG_LEVEL": "ERROR", "EMAIL_URL": "dummymail://",
        "REDIS_URL": "", "DGBOX_SPARE_SCHEMAS": "0", "DGBOX_API_RATE": "1000000/minute",
    })
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    django.setup()
    from django.db import connections
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 130)
    try:
        seconds = prepare(args.tenants, args.services, console)
        console.print(f"{args.tenants * args.services:,} index rows written in {seconds:.1f} s")
        load_before = os.getloadavg()
        table = Table(title=f"National catalogue, {args.tenants:,} tenants x {args.services} "
                            f"services: {args.requests} requests each (Django test Client)")
        for column in ("query", "API p50 ms", "API p95 ms", "SQL ms", "found", "queries",
                       "page p50 ms", "page p95 ms"):
            table.add_column(column, justify="left" if column == "query" else "right")
        everything = []
        for label, params in QUERIES:
            api, queries, found, sql = measure("/api/v1/catalogue/services", params,
                                               args.requests)
            page_params = {k: ("1" if v == "true" else v) for k, v in params.items()
                           if k not in ("page_size", "facets")}
            page, _q, _f, _s = measure("/services/", page_params, args.requests)
            everything += api
            table.add_row(label, f"{statistics.median(api):.1f}", f"{percentile(api, .95):.1f}",
                          f"{sql:.1f}", f"{found:,}", str(queries),
                          f"{statistics.median(page):.1f}", f"{percentile(page, .95):.1f}")
        console.print(table)
        console.print(f"All API requests: p50 {statistics.median(everything):.1f} ms, p95 "
                      f"{percentile(everything, .95):.1f} ms (target p95 < 50 ms)")
        console.print(f"Load average before {load_before[0]:.2f}, after "
                      f"{os.getloadavg()[0]:.2f} (1 min; {os.cpu_count()} CPUs, "
                      f"{platform.python_version()})")
    finally:
        connections.close_all()
        if not args.keep:
            parts = urlsplit(url)
            with psycopg.connect(host=parts.hostname, port=parts.port or 5432,
                                 user=parts.username or None, password=parts.password or None,
                                 dbname="postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            console.print(f"Dropped the benchmark database {args.database}.")


if __name__ == "__main__":
    main()
