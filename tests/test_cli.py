"""The `dgbox` command: tenant create/list/show/suspend/resume, template status, errors."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils.translation import gettext

from tenants.models import Tenant

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_prints_site_admin_and_one_time_link(session_tenants):
    out = run("tenant", "create", "--name", "Заозёрье", "--kind", "municipality",
              "--parent", "north", "--admin-email", "head@zaozerye.example")
    assert "Launched Заозёрье (municipality)" in out
    assert "http://zaozere.localhost/" in out
    assert "/admin/password_reset/confirm/" in out
    tenant = Tenant.objects.get(slug="zaozere")
    assert tenant.parent.slug == "north" and tenant.status == "active"


def test_create_with_bad_input_names_every_problem():
    with pytest.raises(CommandError) as excinfo:
        run("tenant", "create", "--name", "X", "--kind", "municipality", "--slug", "9lives",
            "--admin-email", "nobody")
    message = str(excinfo.value)
    assert "needs --parent" in message
    assert "Slug '9lives' is not valid" in message
    assert "not a valid address" in message


def test_list_show_suspend_resume(session_tenants):
    listing = run("tenant", "list")
    total = Tenant.objects.launched().count()
    assert listing.splitlines()[-1] == gettext("Showing %(first)s-%(last)s of %(total)s.") % {
        "first": 1, "last": total, "total": total}
    for slug in ("north", "south", "ryabinovka"):
        assert slug in listing
    assert "public" not in listing  # the national operator's row is not a tenant

    shown = run("tenant", "show", "ryabinovka")
    assert "Рябиновка" in shown and "Северная область (north)" in shown

    assert "maintenance page" in run("tenant", "suspend", "south")
    assert "south" in run("tenant", "list", "--status", "suspended")
    assert "south" not in run("tenant", "list", "--status", "active")
    with pytest.raises(CommandError, match="only an active tenant"):
        run("tenant", "suspend", "south")
    assert "active again" in run("tenant", "resume", "south")


def test_template_status_reports_a_fresh_snapshot():
    out = run("template", "status")
    assert "fresh" in out and "statements" in out


def test_cli_error_is_one_clear_line_and_non_zero_exit(database_url):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url}
    proc = subprocess.run(
        [sys.executable, "-m", "dgbox.cli", "tenant", "create", "--name", "Москва",
         "--kind", "region", "--slug", "admin", "--admin-email", "a@b.example"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1
    assert "CommandError: Slug 'admin' is reserved by the platform" in proc.stderr
    assert "Traceback" not in proc.stderr
