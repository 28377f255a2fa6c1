"""A stand-in for the dgbox package, installed by the Ansible converge test.

It is packed into a wheel (see _support.py) whose console scripts `dgbox`, `gunicorn` and
`celery` behave just enough like the real ones for the dgbox_app role:

* `dgbox migrate [--shared]` applies the public schema's migration (and, without --shared,
  the tenants') the first time only, printing "Applying ..." as Django does;
* `dgbox rollout run [--json] ...` takes the real command's options, upgrades the tenants the
  first time and prints a "nothing_to_do" report afterwards; if $DGBOX_STATE_DIR/fake-halt
  exists it halts as the real one does: the report, then `CommandError: Rollout halted: <the
  file's text>` on stderr and exit status 1;
* `dgbox collectstatic` writes a manifest;
* `gunicorn` answers /healthz and /readyz on its --bind address, `celery` runs until SIGTERM.

Every call is appended to $DGBOX_STATE_DIR/calls.log with the environment it saw, so the test
can check what the role ran, as whom and with which settings.
"""

import argparse
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


TENANTS = ["ryabinovka", "zarechensk"]


def _migrate(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dgbox migrate")
    parser.add_argument("--shared", action="store_true")
    options = parser.parse_args(argv)
    state = _state_dir()
    applied = []
    for marker, migration in [("migrated-public", "tenants.0001_initial")] + (
        [] if options.shared else [("migrated-tenants", "services.0001_initial")]
    ):
        if not (state / marker).exists():
            (state / marker).write_text(migration + "\n")
            applied.append(migration)
    if applied:
        sys.stdout.write(
            "Running migrations:\n" + "".join(f"  Applying {m}... OK\n" for m in applied)
        )
    else:
        sys.stdout.write("Operations to perform:\n  No migrations to apply.\n")
    sys.stdout.write("Template schema in step with migrations (snapshot fake, 1 statements).\n")


def _threshold(text: str) -> str:
    # As the real command: a number of tenants, or a percentage of the ring.
    number = float(text[:-1]) if text.endswith("%") else int(text)
    if number < 0:
        raise ValueError(text)
    return text


def _rollout(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="dgbox rollout")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run")
    run.add_argument("--canary")
    run.add_argument("--wave-size", type=int, default=50)
    run.add_argument("--workers", type=int, default=0)
    run.add_argument("--max-failures", type=_threshold, default="0")
    run.add_argument("--json", action="store_true")
    options = parser.parse_args(argv)
    state = _state_dir()
    if not (state / "migrated-public").exists():
        sys.stderr.write("CommandError: the public schema is not migrated: run migrate first\n")
        sys.exit(1)
    report = {
        "rollout": 1,
        "release": "fake",
        "status": "completed",
        "halt_reason": "",
        "options": {
            "canary": [s for s in (options.canary or "").split(",") if s],
            "wave_size": options.wave_size,
            "workers": options.workers,
            "max_failures": options.max_failures,
        },
        "summary": {},
        "steps": [],
    }
    halt = state / "fake-halt"
    marker = state / "migrated-tenants"
    if halt.exists():
        report.update(status="halted", halt_reason=halt.read_text().strip())
        sys.stdout.write("Rollout 1 to fake\nRing canary: 0 done, 1 failed\n")
    elif marker.exists():
        report["summary"] = {"nothing_to_do": True, "tenants": len(TENANTS)}
        sys.stdout.write(
            f"Nothing to migrate: {len(TENANTS)} tenants, the public schema and the template "
            "are at fake.\n"
        )
    else:
        marker.write_text("services.0001_initial\n")
        report["summary"] = {"counts": {"done": len(TENANTS), "failed": 0}}
        report["steps"] = [{"slug": slug, "status": "done"} for slug in TENANTS]
        sys.stdout.write("Rollout 1 to fake\nRing canary: 2 done, 0 failed\n")
    if options.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    if report["status"] != "completed":
        sys.stdout.flush()
        sys.stderr.write(
            f"CommandError: Rollout {report['status']}: {report['halt_reason']}\n"
            "Fix the cause, then run `dgbox rollout run` again: it resumes where it stopped.\n"
        )
        sys.exit(1)


def dgbox() -> None:
    _log("dgbox")
    action = sys.argv[1:2]
    state = _state_dir()
    if action == ["migrate"]:
        _migrate(sys.argv[2:])
    elif action == ["rollout"]:
        _rollout(sys.argv[2:])
    elif action == ["collectstatic"]:
        static = state / "static"
        static.mkdir(exist_ok=True)
        (static / "staticfiles.json").write_text("{}\n")
        sys.stdout.write("1 static file copied.\n")
    else:
        sys.stderr.write(f"fake dgbox: unknown command {sys.argv[1:]}\n")
        sys.exit(2)


class _Probes(BaseHTTPRequestHandler):
    def do_GET(self):  # http.server's naming
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
