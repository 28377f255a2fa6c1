"""Prometheus metrics (dgbox/metrics/, docs/observability.md): the operator host's /metrics
after real requests and tasks, its locks, its absence from tenant hosts, and gunicorn with two
real worker processes summed through PROMETHEUS_MULTIPROC_DIR.

The Celery worker's metrics port and its JSON log lines are tested in
tests/test_observability_worker.py (a worker of its own, with JSON logs).
"""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

from services.notifications.models import Message
from tenants.models import Rollout, RolloutStep

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PORTAL = {"HTTP_HOST": "localhost"}
NORTH = {"HTTP_HOST": "north.localhost"}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(client: Client | None = None, **extra) -> dict:
    response = (client or Client()).get("/metrics", **{**PORTAL, **extra})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


@override_settings(DGBOX_METRICS_FLEET_SECONDS=0)
def test_requests_are_counted_by_view_and_status_and_timed(tenant_a):
    before = scrape()
    client = Client()
    assert client.get("/ru/", **NORTH).status_code == 200
    assert client.get("/ru/no-such-page/", **NORTH).status_code == 404
    assert client.get("/healthz", **NORTH).status_code == 200
    assert client.generic("BREW", "/ru/", **NORTH).status_code == 405
    after = scrape()

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    total = "dgbox_http_requests_total"
    assert moved(total, view="wagtail_serve", method="GET", status="200") == 1
    assert moved(total, view="wagtail_serve", method="GET", status="404") == 1
    assert moved(total, view="unrouted", method="GET", status="200") == 1  # the probe
    assert moved(total, view="wagtail_serve", method="other", status="405") == 1, \
        "an invented method is counted as 'other'"
    # the scrape before this one counted itself too: by its URL pattern's name
    assert moved(total, view="metrics", method="GET", status="200") == 1
    assert moved("dgbox_http_request_duration_seconds_count", view="wagtail_serve") == 3
    assert moved("dgbox_http_request_duration_seconds_bucket", view="wagtail_serve",
                 le="+Inf") == 3
    assert not any(name.startswith("dgbox_http") and ("tenant", tenant_a.slug) in labels
                   for name, labels in after), "no tenant label on request metrics"
    assert not any(dict(labels).get("view", "").startswith("/") for _, labels in after)


def test_not_served_on_a_tenant_host(tenant_a):
    client = Client()
    response = client.get("/metrics", **NORTH)
    assert response.status_code == 404
    assert b"dgbox_http_requests" not in response.content
    assert "Северная область" in response.content.decode()  # the tenant's own 404 page
    assert client.get("/metrics/", **NORTH, follow=True).status_code == 404


@override_settings(DGBOX_METRICS_TOKEN="a-long-scrape-token")
def test_a_bearer_token_when_configured():
    client = Client()
    missing = client.get("/metrics", **PORTAL)
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert b"dgbox_" not in missing.content
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer a-long-scrape-tokeN", **PORTAL)
    assert wrong.status_code == 401
    basic = client.get("/metrics", HTTP_AUTHORIZATION="Basic a-long-scrape-token", **PORTAL)
    assert basic.status_code == 401
    assert scrape(client, HTTP_AUTHORIZATION="Bearer a-long-scrape-token")


@override_settings(DGBOX_METRICS_ALLOWED_NETWORKS=["10.0.0.0/8", "2001:db8::/32"])
def test_allowed_networks_when_configured():
    client = Client()
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7", **PORTAL).status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="10.3.2.1", **PORTAL).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::5", **PORTAL).status_code == 200


def test_only_get_and_head():
    assert Client().post("/metrics", **PORTAL).status_code == 405


@override_settings(DGBOX_METRICS_FLEET_SECONDS=0)
def test_fleet_gauges_tenants_outbox_and_rollout(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        for n in range(3):
            Message.objects.create(channel="email", recipient=f"r{n}@example.org",
                                   key="application_received", language="ru", body="Привет")
    rollout = Rollout.objects.create(release="2026.12-test", fingerprint="f" * 64)
    for schema, status in (("public", "done"), (tenant_a.schema_name, "done"),
                           (tenant_b.schema_name, "failed"), ("m", "pending")):
        RolloutStep.objects.create(rollout=rollout, schema_name=schema, ring=1, status=status)

    found = scrape()
    assert value(found, "dgbox_fleet_up") == 1
    assert value(found, "dgbox_tenants", status="active", kind="region") >= 2
    assert ("dgbox_tenants", frozenset({("status", "archived"), ("kind", "municipality")})) \
        in found, "every status and kind is reported, zero included"
    assert value(found, "dgbox_outbox_pending_messages_by_tenant", tenant=tenant_a.slug) == 3
    assert ("dgbox_outbox_pending_messages_by_tenant",
            frozenset({("tenant", tenant_b.slug)})) not in found, "only tenants with a backlog"
    assert value(found, "dgbox_outbox_pending_messages") >= 3
    assert value(found, "dgbox_outbox_oldest_pending_seconds") >= 0
    assert value(found, "dgbox_rollout_steps", status="done") == 2
    assert value(found, "dgbox_rollout_steps", status="failed") == 1
    assert value(found, "dgbox_rollout_steps", status="pending") == 1
    assert value(found, "dgbox_rollout_info", release="2026.12-test", status="running") == 1
    assert value(found, "dgbox_rollout_running") == 1


def test_fleet_gauges_are_kept_between_scrapes(tenant_a):
    """DGBOX_METRICS_FLEET_SECONDS: a second scrape within the interval reads no database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from dgbox.metrics import views

    views.registry.cache_clear()
    scrape()
    with CaptureQueriesContext(connection) as queries:
        scrape()
    assert not [q for q in queries if "tenants_tenant" in q["sql"]], queries.captured_queries


def test_an_eager_task_is_counted_by_name_and_outcome(tenant_a):
    from cms.tasks import publish_scheduled

    before = scrape()
    with tenant_context(tenant_a):
        publish_scheduled.delay()
        # Not propagated, as on a worker: an eager run that raises into its caller ends
        # before Celery's failure signal (the caller sees the exception instead).
        assert publish_scheduled.apply(args=("unexpected",), throw=False).failed()
    after = scrape()
    name = publish_scheduled.name
    assert value(after, "dgbox_celery_tasks_total", task=name, outcome="succeeded") - \
        value(before, "dgbox_celery_tasks_total", task=name, outcome="succeeded") == 1
    assert value(after, "dgbox_celery_tasks_total", task=name, outcome="failed") - \
        value(before, "dgbox_celery_tasks_total", task=name, outcome="failed") == 1
    assert value(after, "dgbox_celery_task_duration_seconds_count", task=name) - \
        value(before, "dgbox_celery_task_duration_seconds_count", task=name) == 2


# --- gunicorn, two worker processes, one directory -----------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, host: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def gunicorn_two_workers(session_tenants, database_url, tmp_path, stop_process):
    """gunicorn with the repository's config hooks, two workers, a metrics port."""
    http_port, metrics_port = _free_port(), _free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"left by a previous run")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url, "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
           "DGBOX_METRICS_PORT": str(metrics_port), "DGBOX_LOG_LEVEL": "WARNING",
           "DGBOX_LOG_FORMAT": "json"}
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "python:dgbox.gunicorn_conf",
         "dgbox.wsgi:application", "--bind", f"127.0.0.1:{http_port}", "--workers", "2",
         "--threads", "2", "--worker-class", "gthread", "--log-level", "info",
         "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if _get(http_port, "/healthz", "localhost")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield http_port, metrics_port, multiproc, log
    finally:
        stop_process(proc)


def test_gunicorn_workers_are_summed_on_the_metrics_port(gunicorn_two_workers):
    http_port, metrics_port, multiproc, log = gunicorn_two_workers
    assert not (multiproc / "counter_999999.db").exists(), "the master empties the directory"
    sent = 0
    # Until both workers have answered (each writes files named after its pid), at most 400.
    with ThreadPoolExecutor(4) as pool:
        while sent < 400:
            statuses = list(pool.map(lambda _: _get(http_port, "/ru/", "north.localhost")[0],
                                     range(20)))
            assert statuses == [200] * 20
            sent += 20
            pids = {path.stem.rsplit("_", 1)[1] for path in multiproc.glob("counter_*.db")}
            if len(pids) >= 2:
                break
    assert len(pids) >= 2, "both workers served"
    status, body = _get(metrics_port, "/metrics", "anything")
    assert status == 200
    found = samples(body.decode())
    assert value(found, "dgbox_http_requests_total", view="wagtail_serve", method="GET",
                 status="200") == sent
    assert value(found, "dgbox_http_request_duration_seconds_count",
                 view="wagtail_serve") == sent
    # The public host's /metrics of the same pod sums the same files.
    status, body = _get(http_port, "/metrics", "localhost")
    assert status == 200
    assert value(samples(body.decode()), "dgbox_http_requests_total", view="wagtail_serve",
                 method="GET", status="200") == sent
    status, body = _get(http_port, "/metrics", "north.localhost")
    assert status == 404 and b"dgbox_http_requests" not in body
    # gunicorn's own lines in DGBOX_LOG_FORMAT too (dgbox/gunicorn_conf.py)
    lines = [json.loads(text) for text in log.read_text().splitlines() if text.startswith("{")]
    loggers = {line["logger"] for line in lines}
    assert {"gunicorn.error", "gunicorn.access"} <= loggers, log.read_text()[-2000:]
    assert all({"request_id", "schema", "level", "time"} <= line.keys() for line in lines)
    # an access line is written in the thread that answered, under that request's id
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert all(len(line["request_id"]) == 32 for line in access), access[:3]


def test_a_wrong_allowed_network_refuses_to_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DGBOX_METRICS_ALLOWED_NETWORKS": "10.0.0.0/8,monitoring"}
    proc = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "DGBOX_METRICS_ALLOWED_NETWORKS: 'monitoring' is not an address" in proc.stderr
