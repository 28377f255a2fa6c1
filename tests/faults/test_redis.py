"""Redis stopped: pages render and the API answers without the cache; the API throttle fails
open; tracking codes fail closed ("try again later"); metering loses counts, never requests,
and never stores a zero; an application sent meanwhile becomes a case, and its messages go
out once Redis is back, each exactly once (a real worker on a Redis of our own)."""

import logging
import os
import re
import time
import uuid

import pytest
import redis
from django.core import mail
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from dgbox.settings.base import cache_settings
from services.models import Case, TrackingCode
from services.notifications import delivery
from services.notifications.api import messages_for
from services.notifications.choices import Status
from services.notifications.tasks import resend_pending
from tenants import metering

from ..factories import NORTH, OnlineServiceFactory
from .servers import ANSWERS, SIMPLE, WAIT, PrivateRedis, celery_on, start_worker, stop_worker

REFERENCE = re.compile(r"\b([A-Z]{2,5}-\d{4}-\d{6})\b")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_cache(redis_server, quiet_logs_reset):
    """Both caches on the private Redis, configured as production configures them; Redis
    running and empty at the start, running again at the end."""
    if not redis_server.running:
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushdb()
    with override_settings(CACHES=cache_settings(redis_server.url, 0.5)):
        yield redis_server
    if not redis_server.running:
        redis_server.start()


def keys_in(server) -> int:
    return redis.Redis.from_url(server.url).dbsize()


@pytest.mark.django_db
def test_pages_and_the_api_answer_without_redis_and_the_throttle_fails_open(
        client, tenant_a, redis_cache, caplog, settings):
    # Windows far longer than the test, so that none ends half-way.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"client": "2/3650d"}}
    assert client.get("/ru/", **NORTH).status_code == 200
    assert keys_in(redis_cache) > 0  # the page did use the cache
    # With Redis up the throttle counts in Redis: the third call is refused.
    assert [client.get("/api/v2/pages/", **NORTH).status_code for _ in range(3)] == [
        200, 200, 429]

    redis_cache.stop()
    with caplog.at_level(logging.WARNING):
        home = client.get("/ru/", **NORTH)
        search = client.get("/ru/search/?q=справка", **NORTH)
        api = [client.get("/api/v2/pages/", **NORTH) for _ in range(3)]
    assert home.status_code == 200 and 'lang="ru"' in home.content.decode()
    assert "Северная область" in home.content.decode()
    assert search.status_code == 200
    # The API keeps answering, and the throttle lets calls through while it cannot count.
    assert [r.status_code for r in api] == [200, 200, 200]
    assert api[0].json()["meta"]["total_count"] > 0
    # Logged, not raised: one line for the cache, one for the limits, however many calls
    # failed.
    cache_lines = [r for r in caplog.records if r.name == "dgbox.cache"]
    assert len(cache_lines) == 1 and cache_lines[0].exc_info is not None
    limit_lines = [r for r in caplog.records if r.name == "tenants.limits.uncounted"]
    assert len(limit_lines) == 1
    assert "Limit not enforced, the counters cannot be reached" in limit_lines[0].getMessage()
    assert "Internal Server Error" not in caplog.text

    redis_cache.start()  # back: the cache is used again, nothing to do
    assert client.get("/ru/", **NORTH).status_code == 200
    assert keys_in(redis_cache) > 0


@pytest.mark.django_db
def test_metering_loses_counts_not_requests_and_never_stores_a_zero(
        client, tenant_a, redis_cache, caplog):
    today = metering.platform_today()
    for _ in range(2):
        assert client.get("/api/v2/pages/", **NORTH).status_code == 200
    with tenant_context(tenant_a):
        assert metering.api_calls(today) == 2
        [record] = [r for r in metering.collect_usage() if r.day == today]
        assert record.api_calls == 2

    redis_cache.stop()
    with caplog.at_level(logging.WARNING):
        assert client.get("/api/v2/pages/", **NORTH).status_code == 200
        assert "Could not count an API call of north" in caplog.text
        with tenant_context(tenant_a):
            [record] = [r for r in metering.collect_usage() if r.day == today]
    assert "API calls of north on" in caplog.text and "not measured" in caplog.text
    assert record.api_calls == 2  # left as it was, not overwritten with 0


@pytest.mark.django_db
def test_tracking_codes_are_refused_while_attempts_cannot_be_counted(
        client, tenant_a, redis_cache, django_capture_on_commit_callbacks, caplog):
    from services.applications.submission import submit_application
    from services.models import ApplicationDraft

    with tenant_context(tenant_a):
        service = OnlineServiceFactory(spec=SIMPLE)
        draft = ApplicationDraft.objects.create(
            service=service, form_version=service.current_version(),
            answers={"purpose": "x", "applicant_name": "Пётр",
                     "applicant_email": "petr@example.org", "applicant_phone": ""})
        with django_capture_on_commit_callbacks(execute=True):
            case, _created = submit_application(draft.token)
    connection.set_schema_to_public()
    mail.outbox.clear()

    redis_cache.stop()
    with caplog.at_level(logging.WARNING), \
            django_capture_on_commit_callbacks(execute=True):
        asked = client.post("/ru/track/", {"reference": case.reference}, **NORTH)
    # Fail closed: no code is made or sent, and the applicant is told to come back.
    assert asked.status_code == 503 and asked["Retry-After"] == "60"
    assert "govuk-error-summary" in asked.content.decode()
    assert "attempt limit client cannot be counted" in caplog.text
    assert mail.outbox == []
    with tenant_context(tenant_a):
        assert not TrackingCode.objects.filter(case=case).exists()

    redis_cache.start()
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post("/ru/track/", {"reference": case.reference}, **NORTH)
    assert asked.status_code == 302
    code = re.search(r"(?<![-\d])(\d{6})(?![-\d])", mail.outbox[-1].body).group(1)

    # Checking codes fails closed too: a guess is refused uncounted, never tried.
    redis_cache.stop()
    guessed = client.post("/ru/track/code/", {"code": "000000"}, **NORTH)
    assert guessed.status_code == 503 and guessed["Retry-After"] == "60"
    with tenant_context(tenant_a):
        live = TrackingCode.objects.get(case=case)
        assert live.attempts == 0 and live.used_at is None
    redis_cache.start()
    opened = client.post("/ru/track/code/", {"code": code}, **NORTH)
    assert opened.status_code == 302 and opened["Location"].endswith("/track/status/")


@pytest.mark.worker
def test_an_application_sent_while_redis_is_down_is_notified_once_when_it_is_back(
        session_tenants, committed_service, redis_cache, tmp_path, caplog):
    """Cache and broker down together (one Redis, as in production): the citizen applies
    normally; the receipts wait in the outbox; once Redis is back, the periodic resend queues
    them and a real worker sends each exactly once."""
    from django.test import Client

    tenant = session_tenants["a"]
    queue = f"dgbox-faults-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    client = Client()
    worker = None
    try:
        with celery_on(redis_cache.url, queue):
            redis_cache.stop()
            with caplog.at_level(logging.WARNING):
                form = client.post("/ru/apply/street-trading/", ANSWERS, **NORTH)
                assert form.status_code == 302, form.content.decode()[:2000]
                check = client.get("/ru/apply/street-trading/check/", **NORTH)
                token = re.search(r'name="draft" value="([0-9a-f-]+)"',
                                  check.content.decode()).group(1)
                sent = client.post("/ru/apply/street-trading/check/", {"draft": token},
                                   **NORTH)
                assert sent.status_code == 302 and sent["Location"].endswith("/done/")
                done = client.get(sent["Location"], **NORTH)
            assert done.status_code == 200
            reference = REFERENCE.search(done.content.decode()).group(1)
            assert "stay pending" in caplog.text  # the broker was down at commit
            with tenant_context(tenant):
                assert Case.objects.filter(reference=reference).count() == 1
                waiting = list(messages_for(reference))
                assert sorted(m.channel for m in waiting) == ["email", "sms"]
                assert all(m.status == Status.PENDING and m.attempts == 0 for m in waiting)

            # Redis is back: the periodic resend queues them, a real worker sends them.
            redis_cache.start()
            with tenant_context(tenant):
                assert resend_pending() == 2
            worker = start_worker(redis_cache.url, queue, tmp_path)
            deadline = time.monotonic() + WAIT
            with tenant_context(tenant):
                while messages_for(reference).filter(status=Status.SENT).count() < 2:
                    assert worker.poll() is None, worker.log_path.read_text()
                    assert time.monotonic() < deadline, worker.log_path.read_text()
                    time.sleep(0.2)
                sent_messages = list(messages_for(reference))
                assert [(m.status, m.attempts) for m in sent_messages] == [
                    ("sent", 1), ("sent", 1)]
                sms_lines = (tmp_path / "sms.log").read_text(encoding="utf-8").splitlines()
                assert len(sms_lines) == 1 and reference in sms_lines[0]
                # Exactly once: nothing left to resend, a duplicate wake-up sends nothing.
                assert resend_pending() == 0
                assert delivery.deliver_message(sent_messages[0].pk) == "skipped"
                assert Case.objects.filter(reference=reference).count() == 1
            assert redis.Redis.from_url(redis_cache.url).llen(queue) == 0
    finally:
        stop_worker(worker)


def test_the_cache_outage_log_says_how_many_lines_it_left_out(monkeypatch):
    from dgbox import logfilters

    now = [1000.0]
    monkeypatch.setattr(logfilters.time, "monotonic", lambda: now[0])
    once = logfilters.OncePerInterval(seconds=30)

    def record():
        return logging.LogRecord("dgbox.cache", logging.ERROR, __file__, 1, "Exception ignored",
                                 None, None)

    assert once.filter(record())
    assert [once.filter(record()) for _ in range(4)] == [False] * 4
    now[0] += 30
    passed = record()
    assert once.filter(passed)
    assert passed.getMessage() == "Exception ignored (4 similar not logged in the last 30 s)"
