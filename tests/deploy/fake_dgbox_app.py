"""A stand-in for the dgbox package, installed by the Ansible converge test.

It is packed into a wheel (see conftest.py) whose console scripts `dgbox`, `gunicorn` and
`celery` behave just enough like the real ones for the dgbox_app role: `dgbox migrate`
applies a migration the first time only, `dgbox collectstatic` writes a manifest, `gunicorn`
answers /healthz and /readyz on its --bind address, `celery` runs until SIGTERM. Every call
is appended to $DGBOX_STATE_DIR/calls.log with the environment it saw, so the test can check
what the role ran, as whom and with which settings.
"""

import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def _state_dir() -> Path:
    return Path(os.environ["DGBOX_STATE_DIR"])


def _log(command: str) -> None:
    record = {
        "command": command,
        "argv": sys.argv[1:],
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "settings": os.environ.get("DJANGO_SETTINGS_MODULE"),
        "base_domain": os.environ.get("DGBOX_BASE_DOMAIN"),
        "database_url": os.environ.get("DATABASE_URL"),
        "secret_key_length": len(os.environ.get("DGBOX_SECRET_KEY", "")),
    }
    with (_state_dir() / "calls.log").open("a") as log:
        log.write(json.dumps(record) + "\n")


def _stop_on_sigterm() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def dgbox() -> None:
    _log("dgbox")
    action = sys.argv[1:2]
    state = _state_dir()
    if action == ["migrate"]:
        marker = state / "migrated"
        if marker.exists():
            sys.stdout.write("Operations to perform:\n  No migrations to apply.\n")
        else:
            marker.write_text("tenants.0001_initial\n")
            sys.stdout.write("Running migrations:\n  Applying tenants.0001_initial... OK\n")
    elif action == ["collectstatic"]:
        static = state / "static"
        static.mkdir(exist_ok=True)
        (static / "staticfiles.json").write_text("{}\n")
        sys.stdout.write("1 static file copied.\n")
    else:
        sys.stderr.write(f"fake dgbox: unknown command {sys.argv[1:]}\n")
        sys.exit(2)


class _Probes(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        status = 200 if self.path in ("/healthz", "/readyz") else 404
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok\n" if status == 200 else b"not found\n")

    def log_message(self, *args):
        pass


def gunicorn() -> None:
    _log("gunicorn")
    argv = sys.argv[1:]
    host, port = argv[argv.index("--bind") + 1].rsplit(":", 1)
    _stop_on_sigterm()
    HTTPServer((host, int(port)), _Probes).serve_forever()


def celery() -> None:
    _log("celery")
    _stop_on_sigterm()
    while True:
        time.sleep(3600)
