"""Error reporting (sentry-sdk, DGBOX_SENTRY_DSN) and JSON logs (DGBOX_LOG_FORMAT=json).

Sentry is tested for real: its DSN points at a tiny HTTP server on 127.0.0.1 that keeps the
envelopes sentry-sdk posts; an error raised by a tenant's view must arrive tagged with the
schema and the request id, and none of the personal data the request carried may be in it.
"""

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client

from dgbox import errorreporting

pytestmark = pytest.mark.django_db

NORTH = "north.localhost"
# Built from pieces: sentry-sdk sends the source lines around each frame, these tests' own
# lines among them, and none of them may hold the values looked for.
PII = "ivan.petrov" + ".pii@example.org"
NAME = "Ivan" + "-Secret-" + "Petrov"
ADDRESS = ".".join(["198", "51", "100", "7"])


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        self.server.envelopes.append((self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.envelopes = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sentry(sentry_server):
    """sentry-sdk started as settings start it, pointed at the collector; stopped after."""
    import sentry_sdk

    errorreporting.init(f"http://public@127.0.0.1:{sentry_server.server_port}/1", "testing")
    yield sentry_server
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def events_in(envelopes) -> list[dict]:
    events = []
    for _path, body in envelopes:
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    return events


def test_an_error_in_a_tenant_view_reaches_sentry_tagged_and_without_personal_data(
        sentry, monkeypatch, tenant_a):
    import sentry_sdk

    monkeypatch.setattr("cms.views.render", lambda *a, **k: 1 / 0)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = PII
    response = client.post(f"/ru/search/?q={PII}", {"email": PII, "name": NAME},
                           HTTP_HOST=NORTH, HTTP_AUTHORIZATION=f"Basic {PII}",
                           HTTP_X_FORWARDED_FOR=ADDRESS, REMOTE_ADDR=ADDRESS)
    assert response.status_code == 500
    sentry_sdk.flush(timeout=10)

    assert sentry.envelopes, "no envelope reached the collector"
    assert all(path == "/api/1/envelope/" for path, _ in sentry.envelopes)
    raw = b"".join(body for _, body in sentry.envelopes)
    for private in (PII, NAME, ADDRESS):
        assert private.encode() not in raw, private
    events = [e for e in events_in(sentry.envelopes)
              if e.get("exception", {}).get("values", [{}])[-1].get("type")
              == "ZeroDivisionError"]
    assert events, events_in(sentry.envelopes)
    event = events[0]
    assert event["tags"]["schema"] == tenant_a.schema_name
    assert event["tags"]["request_id"] == response["X-Request-ID"]
    assert event["environment"] == "testing"
    assert event["release"].startswith("dgbox@")
    request = event["request"]
    assert not {"data", "cookies", "query_string", "env"} & request.keys()
    assert not {"cookie", "authorization", "x-forwarded-for"} & {
        name.lower() for name in request.get("headers", {})}
    assert "user" not in event
    frames = event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert not any("vars" in frame for frame in frames)


def test_a_failing_task_reaches_sentry_with_its_schema(sentry, tenant_a):
    import sentry_sdk
    from django_tenants.utils import tenant_context

    from dgbox.celery import app

    @app.task(name="tests.observability.fails")
    def fails():
        raise LookupError("task failed")

    with tenant_context(tenant_a), pytest.raises(LookupError):
        fails.delay()
    sentry_sdk.flush(timeout=10)
    events = [e for e in events_in(sentry.envelopes)
              if e.get("exception", {}).get("values", [{}])[-1].get("type") == "LookupError"]
    assert events, events_in(sentry.envelopes)
    assert events[0]["tags"]["schema"] == tenant_a.schema_name
    # sent outside a request: the task got an id of its own (dgbox/requestid.py)
    assert len(events[0]["tags"]["request_id"]) == 32


def _settings_probe(extra_env: dict) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DGBOX_SENTRY")}
    code = ("import django; django.setup(); import sys, sentry_sdk; "
            "print(sentry_sdk.get_client().is_active(), 'sentry_sdk.integrations.django' "
            "in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env={
        **env, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test", **extra_env},
        capture_output=True, text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_sentry_is_started_only_with_a_dsn():
    assert _settings_probe({}) == "False False"
    assert _settings_probe({"DGBOX_SENTRY_DSN": "http://public@127.0.0.1:9/1"}) == "True True"


# --- JSON logs --------------------------------------------------------------------------
def test_json_log_lines_carry_request_id_and_schema(tenant_a):
    """The settings' own JSON formatter and filters on the console handler, one request."""
    from logging.config import dictConfig

    from django.conf import settings

    config = json.loads(json.dumps(settings.LOGGING))
    config["handlers"]["console"]["formatter"] = "json"
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:]
    dictConfig(config)
    handler = next(h for h in root.handlers if h.name == "console")
    handler.setStream(stream)
    try:
        response = Client().get("/ru/no-such-page/", HTTP_HOST=NORTH)
        logging.getLogger("dgbox.test").info("outside a request")
    finally:
        root.handlers[:] = saved
        dictConfig(settings.LOGGING)  # back to the run's own configuration
    assert response.status_code == 404
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    found = [line for line in lines if line["message"] == "Not Found: /ru/no-such-page/"]
    assert found, lines
    line = found[0]
    assert line["level"] == "WARNING" and line["logger"] == "django.request"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["schema"] == tenant_a.schema_name
    assert line["time"]
    outside = [line for line in lines if line["message"] == "outside a request"][0]
    assert outside["request_id"] == "-"


def test_log_format_is_text_or_json():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test"}
    code = "import django; django.setup(); import logging; logging.getLogger('x').warning('hi')"
    text = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=True, timeout=120)
    assert "WARNING x [-] hi" in text.stderr
    as_json = subprocess.run([sys.executable, "-c", code],
                             env={**env, "DGBOX_LOG_FORMAT": "json"}, capture_output=True,
                             text=True, check=True, timeout=120)
    record = json.loads(as_json.stderr.strip().splitlines()[-1])
    assert record["message"] == "hi" and record["schema"] == "public"
    wrong = subprocess.run([sys.executable, "-c", code], env={**env, "DGBOX_LOG_FORMAT": "xml"},
                           capture_output=True, text=True, timeout=120)
    assert wrong.returncode != 0 and "DGBOX_LOG_FORMAT must be text or json" in wrong.stderr


def test_before_send_drops_what_the_django_integration_attaches():
    """Under the test client sentry-sdk leaves the event's request empty; through a real WSGI
    server it attaches these fields, which before_send must take off."""
    event = {"user": {"ip_address": ADDRESS}, "extra": {"request": f"<WSGIRequest ?q={PII}>"},
             "request": {"url": "http://north.localhost/ru/search/", "method": "POST",
                         "data": {"email": PII}, "cookies": {"sessionid": PII},
                         "query_string": f"q={PII}", "env": {"REMOTE_ADDR": ADDRESS},
                         "headers": {"Cookie": PII, "Authorization": PII,
                                     "X-Forwarded-For": ADDRESS, "Accept": "text/html"}},
             "breadcrumbs": {"values": [{"data": {"url": "https://sms.example/send",
                                                  "http.query": f"to={PII}"}}]}}
    scrubbed = errorreporting.before_send(event, {})
    text = json.dumps(scrubbed)
    assert PII not in text and ADDRESS not in text
    assert scrubbed["request"] == {"url": "http://north.localhost/ru/search/", "method": "POST",
                                   "headers": {"Accept": "text/html"}}
    assert scrubbed["tags"] == {"schema": "public", "request_id": "-"}
