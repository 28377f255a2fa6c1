"""JSON log lines and metrics of a real Celery worker and of a real `dgbox` CLI run
(dgbox/requestid.py, dgbox/metrics/worker.py, docs/observability.md).

The worker here is the production kind: a prefork pool (the task runs in a child process),
DGBOX_LOG_FORMAT=json, PROMETHEUS_MULTIPROC_DIR and the metrics port served by the main
process.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django_guid.context import guid
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for text in path.read_text(errors="replace").splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


@pytest.fixture(scope="module")
def json_worker(session_tenants, django_db_setup, tmp_path_factory, stop_process):
    """A prefork worker with JSON logs and a metrics port, on its own queue."""
    from django.conf import settings

    from infra.localservices import ensure_redis
    from tests.factories import database_url_of

    redis_url = (os.environ.get("REDIS_URL") or ensure_redis(required=True)).rsplit("/", 1)[0] \
        + "/14"
    queue = f"dgbox-observe-{os.getpid()}"
    tmp = tmp_path_factory.mktemp("json-worker")
    multiproc = tmp / "prometheus"
    multiproc.mkdir()
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url_of(settings.DATABASES["default"]),
           "REDIS_URL": redis_url, "DGBOX_CELERY_QUEUE": queue, "DGBOX_CELERY_EAGER": "0",
           "DGBOX_LOG_FORMAT": "json", "DGBOX_LOG_LEVEL": "INFO",
           "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "DGBOX_METRICS_PORT": str(port)}
    log_path = tmp / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--pool=prefork",
             "--concurrency=1", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-l", "info"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if _get(port) is not None:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        yield {"broker": redis_url, "queue": queue, "log": log_path, "port": port,
               "multiproc": multiproc, "pid": proc.pid}
    finally:
        stop_process(proc)


def _get(port: int) -> str | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        return response.read().decode() if response.status == 200 else None
    finally:
        conn.close()


def _samples(text: str) -> dict:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.mark.worker
@pytest.mark.django_db
def test_a_real_tasks_log_lines_and_metrics(json_worker, celery_on, tenant_a):
    from cms.tasks import publish_scheduled

    request_id = uuid.uuid4().hex
    with celery_on(json_worker["broker"], json_worker["queue"]) as app:
        token = guid.set(request_id)  # as while answering a request
        try:
            with tenant_context(tenant_a):
                ok = publish_scheduled.delay()
                # sent by name: Celery checks the arguments of a task sent through its object
                bad = app.send_task(publish_scheduled.name, args=("unexpected",))
        finally:
            guid.reset(token)
        ok.get(timeout=60)
        with pytest.raises(TypeError):
            bad.get(timeout=60, propagate=True)

    deadline = time.monotonic() + 30
    while True:
        lines = _json_lines(json_worker["log"])
        done = [line for line in lines if ok.id in line["message"] and "succeeded" in
                line["message"]]
        failed = [line for line in lines if bad.id in line["message"] and "raised" in
                  line["message"]]
        if (done and failed) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert done and failed, json_worker["log"].read_text()[-3000:]
    for line in (done[0], failed[0]):
        assert line["request_id"] == request_id, line
        assert line["schema"] == tenant_a.schema_name, line
        assert line["logger"] == "celery.app.trace" and line["time"]
    assert failed[0]["level"] == "ERROR" and "TypeError" in failed[0]["exc_info"]
    assert all({"time", "level", "logger", "message", "request_id", "schema"} <= line.keys()
               for line in lines), "every line of the worker is a full JSON record"

    found = _samples(_get(json_worker["port"]))
    name = publish_scheduled.name
    assert found[("dgbox_celery_tasks_total",
                  frozenset({("task", name), ("outcome", "succeeded")}))] >= 1
    assert found[("dgbox_celery_tasks_total",
                  frozenset({("task", name), ("outcome", "failed")}))] >= 1
    assert found[("dgbox_celery_task_duration_seconds_count", frozenset({("task", name)}))] >= 2
    # counted by the pool's child process, served by the main one through the directory
    writers = {path.stem.rsplit("_", 1)[1] for path in json_worker["multiproc"].glob("*.db")}
    assert writers and str(json_worker["pid"]) not in writers
    # the worker's port carries the fleet gauges too
    assert found[("dgbox_fleet_up", frozenset())] == 1
    assert found[("dgbox_tenants", frozenset({("status", "active"), ("kind", "region")}))] >= 2


def _cli_log_line(extra_env: dict | None = None) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DGBOX_LOG_FORMAT": "json", **(extra_env or {})}
    code = "import logging; logging.getLogger('dgbox.cli_test').warning('from the CLI')"
    proc = subprocess.run([str(Path(sys.executable).with_name("dgbox")), "shell", "-c", code],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    (line,) = [json.loads(text) for text in proc.stderr.splitlines()
               if text.startswith("{") and "from the CLI" in text]
    return line


def test_a_cli_runs_log_lines_carry_an_id_of_the_invocation():
    first, second = _cli_log_line(), _cli_log_line()
    for line in (first, second):
        assert HEX_ID.match(line["request_id"]), line
        assert line["schema"] == "public"
        assert line["level"] == "WARNING" and line["logger"] == "dgbox.cli_test"
    assert first["request_id"] != second["request_id"], "one id per invocation"
