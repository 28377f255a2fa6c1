"""Usage metering per tenant and the open API it counts: API calls counted per tenant (and
never for another), cases, notifications and storage measured from the tenant's own schema
and S3 prefix, today's and yesterday's rows upserted (a rerun changes nothing), an S3 outage
recorded as "not measured" rather than zero, the hourly fan-out and `dgbox usage`."""

import datetime
import io
import json

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from infra import s3
from tenants import metering
from tenants.models import Tenant, UsageRecord

from .factories import NORTH, SOUTH, MessageFactory, OnlineServiceFactory, make_cases

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def sent_message(channel="email", when=None, status="sent"):
    return MessageFactory(channel=channel, status=status,
                          sent_at=when or timezone.now() if status == "sent" else None)


def collect(tenant, now=None):
    with tenant_context(tenant):
        records = metering.collect_usage(now=now)
    return {r.day: r for r in records}


# --- The open API ------------------------------------------------------------------------------


def test_api_lists_only_the_tenants_own_live_pages(client, tenant_a, tenant_b):
    from cms.models import ServicePage

    with tenant_context(tenant_a):
        page = ServicePage.objects.filter(locale__language_code="ru").live().first()
        page.title = "Только у севера"
        page.save_revision().publish()
        draft = ServicePage.objects.filter(locale__language_code="ru").live().last()
        draft.unpublish()
    a = client.get("/api/v2/pages/?type=cms.ServicePage&fields=summary,cost_kind,channels"
                   "&limit=100", **NORTH)
    b = client.get("/api/v2/pages/?type=cms.ServicePage&limit=100", **SOUTH)
    assert a.status_code == b.status_code == 200
    assert a["Content-Type"] == "application/json"
    titles_a = {item["title"] for item in a.json()["items"]}
    titles_b = {item["title"] for item in b.json()["items"]}
    assert "Только у севера" in titles_a and "Только у севера" not in titles_b
    assert draft.title not in titles_a  # unpublished pages are not served
    item = next(i for i in a.json()["items"] if i["title"] == "Только у севера")
    assert item["summary"] == page.summary
    assert item["cost_kind"] == page.cost_kind
    assert {c["kind"] for c in item["channels"]} == set(page.channels.values_list("kind",
                                                                                   flat=True))


def test_api_bad_input_is_a_clear_400_not_a_500(client, tenant_a):
    response = client.get("/api/v2/pages/?type=cms.NoSuchPage", **NORTH)
    assert response.status_code == 400
    assert "type" in response.json()["message"]
    response = client.get("/api/v2/pages/?limit=abc", **NORTH)
    assert response.status_code == 400
    assert "limit" in response.json()["message"]


@pytest.mark.parametrize("kind, fields", [("cms.ServicePage", "summary,channels"),
                                          ("cms.OfficePage", "hours,exceptions")])
def test_api_lists_cost_the_same_queries_whatever_their_length(client, tenant_a, kind, fields):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(limit):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/v2/pages/?type={kind}&fields={fields}&limit={limit}",
                                  **NORTH)
        assert response.status_code == 200
        return len(response.json()["items"]), len(ctx.captured_queries)

    queries(1)  # warm caches (site root paths, content types)
    few, many = queries(1), queries(20)
    assert many[0] > few[0] >= 1
    assert many[1] == few[1], (few, many)


# --- API call counters ---------------------------------------------------------------------------


def test_api_calls_are_counted_per_tenant(client, tenant_a, tenant_b):
    today = metering.platform_today()
    for _ in range(3):
        assert client.get("/api/v2/pages/", **NORTH).status_code == 200
    client.get("/api/v2/pages/?limit=abc", **NORTH)  # a refused call is still a call
    client.get("/api/v2/pages/", **SOUTH)
    client.get("/ru/", **NORTH)  # not the API
    with tenant_context(tenant_a):
        assert metering.api_calls(today) == 4
    with tenant_context(tenant_b):
        assert metering.api_calls(today) == 1


def test_a_cache_outage_costs_a_count_not_the_request(client, tenant_a, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    # Counters live in the "counters" cache, which raises (tests/faults/test_redis.py stops a
    # real Redis under it).
    monkeypatch.setattr(caches["counters"], "incr", broken)
    assert client.get("/api/v2/pages/", **NORTH).status_code == 200


# --- Collection ----------------------------------------------------------------------------------


def test_collect_measures_cases_messages_api_and_storage_of_that_tenant_only(
        client, tenant_a, tenant_b, s3_bucket):
    before_a = collect(tenant_a)[metering.platform_today()]
    before_b = collect(tenant_b)[metering.platform_today()]

    with tenant_context(tenant_a):
        service = OnlineServiceFactory()
        cases = make_cases(service, 3)
        cases[0].closed_at = timezone.now()
        cases[0].save(update_fields=["closed_at"])
        sent_message()
        sent_message("sms")
        sent_message(status="pending")  # not sent: not counted
        sent_message(when=timezone.now() - datetime.timedelta(days=3))  # another day
    prefix = s3.tenant_prefix(tenant_a.schema_name)
    s3.upload_bytes(f"{prefix}metering/one.bin", b"x" * 1000)
    s3.upload_bytes(f"{prefix}metering/two.bin", b"y" * 234)
    # Public media (DGBOX_PUBLIC_MEDIA=s3) is in the same prefix, counted apart.
    with tenant_context(tenant_a):
        media = storages["default"].save("original_images/metering.png", ContentFile(b"z" * 500))
    try:
        client.get("/api/v2/pages/", **NORTH)
        after_a = collect(tenant_a)[metering.platform_today()]
        after_b = collect(tenant_b)[metering.platform_today()]
    finally:
        with tenant_context(tenant_a):
            storages["default"].delete(media)
        s3.delete_prefix(f"{prefix}metering/")

    assert after_a.cases_total - before_a.cases_total == 3
    assert after_a.cases_open - before_a.cases_open == 2
    assert after_a.cases_new - before_a.cases_new == 3
    assert after_a.notifications_sent - before_a.notifications_sent == 2
    assert after_a.sms_sent - before_a.sms_sent == 1
    assert after_a.api_calls - before_a.api_calls == 1
    assert after_a.storage_objects - before_a.storage_objects == 2
    assert after_a.storage_bytes - before_a.storage_bytes == 1234
    assert after_a.media_bytes - before_a.media_bytes == 500
    for field in metering.COUNTERS + metering.GAUGES:  # B saw none of it
        assert getattr(after_b, field) == getattr(before_b, field), field
    # One row per tenant and day, updated in place.
    assert UsageRecord.objects.filter(schema_name=tenant_a.schema_name).count() == 1
    assert after_a.pk == before_a.pk and after_a.tenant == tenant_a


def test_a_rerun_changes_nothing(tenant_a, s3_bucket):
    first = collect(tenant_a)
    second = collect(tenant_a)
    fields = metering.COUNTERS + metering.GAUGES
    assert [(d, [getattr(r, f) for f in fields]) for d, r in first.items()] == \
           [(d, [getattr(r, f) for f in fields]) for d, r in second.items()]
    assert UsageRecord.objects.filter(schema_name=tenant_a.schema_name).count() == len(first)


def test_yesterdays_late_calls_are_kept_and_its_gauges_untouched(tenant_a, s3_bucket):
    now = timezone.now()
    yesterday_noon = now - datetime.timedelta(days=1)
    with tenant_context(tenant_a):
        metering.record_api_call(now=yesterday_noon)
    early = collect(tenant_a, now=yesterday_noon)  # the last run of yesterday
    yesterday = metering.platform_today(yesterday_noon)
    assert early[yesterday].api_calls == 1 and early[yesterday].cases_total is not None
    gauges = early[yesterday].cases_total
    with tenant_context(tenant_a):  # two more after that run
        metering.record_api_call(now=yesterday_noon)
        metering.record_api_call(now=yesterday_noon)
    records = collect(tenant_a, now=now)
    assert records[yesterday].api_calls == 3  # the late calls are not lost
    assert records[yesterday].cases_total == gauges  # gauges of a past day stay as measured
    assert records[metering.platform_today(now)].api_calls == 0


def test_no_empty_row_for_a_quiet_yesterday(tenant_b, s3_bucket):
    records = collect(tenant_b)
    assert list(records) == [metering.platform_today()]


def test_s3_outage_is_not_measured_rather_than_zero(tenant_a, s3_bucket, settings):
    settings.DGBOX_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.DGBOX_S3_CONNECT_TIMEOUT = 0.5
    record = collect(tenant_a)[metering.platform_today()]
    assert record.storage_bytes is None and record.storage_objects is None
    assert record.media_bytes is None  # on S3 too
    assert record.cases_total is not None


def test_local_media_is_measured_on_disk(tenant_a, s3_bucket, settings, tmp_path):
    """The fallback without S3 (DGBOX_PUBLIC_MEDIA=local): MEDIA_ROOT/<schema>/ is measured."""
    settings.DGBOX_PUBLIC_MEDIA = "local"
    settings.MEDIA_ROOT = tmp_path
    media = tmp_path / tenant_a.schema_name / "original_images" / "plan.png"
    media.parent.mkdir(parents=True)
    media.write_bytes(b"z" * 700)
    record = collect(tenant_a)[metering.platform_today()]
    assert record.media_bytes == 700


def test_collect_refuses_the_public_schema(db):
    with pytest.raises(RuntimeError, match="tenant"):
        metering.collect_usage()


def test_hourly_fan_out_meters_every_active_tenant(tenant_a, tenant_b, s3_bucket):
    from tenants.tasks import fan_out

    sent = fan_out("tenants.meter_usage")
    assert {tenant_a.schema_name, tenant_b.schema_name} <= set(sent)
    measured = set(UsageRecord.objects.filter(day=metering.platform_today())
                   .values_list("schema_name", flat=True))
    assert set(sent) <= measured
    assert "meter-usage" in settings.CELERY_BEAT_SCHEDULE


# --- Reading and the CLI -------------------------------------------------------------------------


def test_fleet_usage_sums_counters_and_keeps_latest_gauges(tenant_a, tenant_b, public_schema):
    today = metering.platform_today()
    now = timezone.now()
    for days_ago, calls, total in ((0, 5, 10), (1, 7, 9), (40, 1000, 1)):
        UsageRecord.objects.create(tenant=tenant_a, schema_name=tenant_a.schema_name,
                                   day=today - datetime.timedelta(days=days_ago),
                                   api_calls=calls, cases_new=1, notifications_sent=2,
                                   sms_sent=0, cases_total=total, cases_open=1,
                                   collected_at=now)
    rows = {r["schema_name"]: r for r in metering.fleet_usage(30)}
    a = rows[tenant_a.schema_name]
    assert a["api_calls"] == 12 and a["cases_new"] == 2 and a["notifications_sent"] == 4
    assert a["cases_total"] == 10 and a["day"] == today
    series = metering.daily_totals(30, schema_name=tenant_a.schema_name)
    assert len(series) == 30 and series[-1]["day"] == today
    assert [p["api_calls"] for p in series[-2:]] == [7, 5]
    assert sum(p["api_calls"] for p in series) == 12


def test_fleet_usage_reads_only_the_period(tenant_a, tenant_b, public_schema):
    """Gauges older than the period are not read: the query is bounded by date, not by the
    whole history (a tenant measured only long ago shows no usage)."""
    today = metering.platform_today()
    UsageRecord.objects.create(tenant=tenant_b, schema_name=tenant_b.schema_name,
                               day=today - datetime.timedelta(days=40), api_calls=3,
                               cases_new=0, notifications_sent=0, sms_sent=0, cases_total=7,
                               cases_open=1, collected_at=timezone.now())
    with CaptureQueriesContext(connection) as captured:
        rows = {r["schema_name"]: r for r in metering.fleet_usage(30)}
    assert tenant_b.schema_name not in rows
    assert len(captured) == 2
    assert all('"day" >=' in q["sql"] for q in captured.captured_queries)
    assert metering.fleet_usage(60, schema_name=tenant_b.schema_name)[0]["cases_total"] == 7


def test_latest_gauges_are_each_tenants_newest_measured_day(tenant_a, tenant_b, public_schema):
    """A day whose gauges were not measured (S3 down: stored as empty) does not hide the day
    before; each tenant gets its own newest measurement, in the same two queries with more
    tenants."""
    today = metering.platform_today()
    now = timezone.now()

    def row(tenant, days_ago, total):
        UsageRecord.objects.create(tenant=tenant, schema_name=tenant.schema_name,
                                   day=today - datetime.timedelta(days=days_ago), api_calls=1,
                                   cases_new=0, notifications_sent=0, sms_sent=0,
                                   cases_total=total, cases_open=None if total is None else 0,
                                   collected_at=now)

    row(tenant_a, 0, None)
    row(tenant_a, 1, 8)
    row(tenant_a, 2, 6)
    row(tenant_b, 3, 4)
    with CaptureQueriesContext(connection) as captured:
        rows = {r["schema_name"]: r for r in metering.fleet_usage(30)}
    assert rows[tenant_a.schema_name]["cases_total"] == 8
    assert rows[tenant_a.schema_name]["day"] == today - datetime.timedelta(days=1)
    assert rows[tenant_a.schema_name]["api_calls"] == 3
    assert rows[tenant_b.schema_name]["cases_total"] == 4
    for i in range(20):
        tenant = Tenant.objects.create(name=f"Район {i}", slug=f"raion-{i}", kind="region",
                                       schema_name=f"raion_{i}", status="active")
        row(tenant, i % 3, i)
    with CaptureQueriesContext(connection) as more:
        assert len(metering.fleet_usage(30)) == 22
    assert len(more) == len(captured) == 2


def test_usage_cli_collects_with_progress_and_shows_a_table(tenant_a, tenant_b, s3_bucket):
    out = io.StringIO()
    call_command("usage", "collect", "--tenant", tenant_a.slug, stdout=out)
    assert "Measured 1 of 1 tenants" in out.getvalue()
    assert UsageRecord.objects.filter(schema_name=tenant_a.schema_name).exists()
    assert not UsageRecord.objects.filter(schema_name=tenant_b.schema_name).exists()
    out = io.StringIO()
    call_command("usage", "show", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert [r["slug"] for r in rows] == [tenant_a.slug]
    out = io.StringIO()
    call_command("usage", "show", stdout=out)
    assert tenant_a.slug in out.getvalue() and "API calls 30d" in out.getvalue()


def test_usage_cli_bad_input_is_a_clear_error(tenant_a):
    with pytest.raises(CommandError, match="No active tenant nowhere"):
        call_command("usage", "collect", "--tenant", "nowhere", stdout=io.StringIO())
    with pytest.raises(CommandError, match="between 1 and 366"):
        call_command("usage", "show", "--days", "0", stdout=io.StringIO())
