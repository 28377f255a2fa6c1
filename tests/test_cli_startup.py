"""What a `dgbox` fleet command loads when it starts: no Wagtail API v3 (django-ninja), no URL
configuration (Django's system checks are skipped), while `dgbox check` still loads and checks
everything. Each case is a process of its own, started as a user starts one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Runs the command through dgbox.cli as the `dgbox` script does, then names the modules of
# interest the process ended up with.
PROBE = """
import sys
from dgbox.cli import main
try:
    main(sys.argv[1:])
finally:
    loaded = sorted(m for m in sys.modules if m == "ninja" or m.startswith("dgbox.urls"))
    print("LOADED", ",".join(loaded))
"""


def run(database_url, *argv):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, "-c", PROBE, "dgbox", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.rsplit("LOADED ", 1)[1].strip()
    return proc.stdout, set(filter(None, loaded.split(",")))


@pytest.mark.parametrize("argv", [("rollout", "plan"), ("template", "status"),
                                  ("tenant", "list")])
def test_fleet_commands_start_without_the_api_v3_or_the_url_configuration(database_url, argv):
    out, loaded = run(database_url, *argv)
    assert loaded == set()
    assert out.strip()  # and did their work


def test_check_still_loads_and_checks_everything(database_url):
    out, loaded = run(database_url, "check")
    assert "System check identified no issues" in out
    assert "ninja" in loaded and any(m.startswith("dgbox.urls") for m in loaded)


def test_the_api_v3_in_a_fleet_command_is_refused_with_the_reason(database_url):
    code = ("from dgbox.deferred_api import DeferredAPIError, defer_wagtail_api_v3\n"
            "defer_wagtail_api_v3()\n"
            "import django\n"
            "django.setup()\n"
            "from wagtail.api.v3.api import api\n"
            "try:\n"
            "    api.urls\n"
            "except DeferredAPIError as exc:\n"
            "    print(exc)\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "wagtail.api.v3.api.api.urls is Wagtail's API v3" in proc.stdout
