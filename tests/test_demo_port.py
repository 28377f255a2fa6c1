"""`dgbox demo --port N`: every link to the demo's sites uses port N, those `dgbox tenant
create` prints in another terminal included."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django_tenants.utils import tenant_context
from wagtail.models import Site

from demo.management.commands.demo import serve_links_on
from tenants.models import Tenant

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo_port(settings, monkeypatch, tmp_path):
    """As `dgbox demo --port 8123` leaves things; the environment is put back afterwards."""
    monkeypatch.setenv("DGBOX_SITE_PORT", "unset-after-the-test")
    monkeypatch.delenv("DGBOX_SITE_PORT")
    settings.DGBOX_DEMO_PORT_FILE = tmp_path / "demo-port"
    settings.DGBOX_SITE_PORT = 0
    serve_links_on(8123)
    return 8123


def test_tenant_create_prints_links_on_the_demo_port(demo_port, session_tenants):
    assert os.environ["DGBOX_SITE_PORT"] == "8123"  # for the worker the demo starts
    out = StringIO()
    call_command("tenant", "create", "--name", "Ольховка", "--kind", "municipality",
                 "--parent", "north", "--admin-email", "head@olkhovka.example", stdout=out)
    text = out.getvalue()
    assert "Site:  http://olkhovka.localhost:8123/" in text
    assert "http://olkhovka.localhost:8123/admin/password_reset/confirm/" in text
    # The Wagtail site is written with the port too, so its full URLs work.
    with tenant_context(Tenant.objects.get(slug="olkhovka")):
        assert Site.objects.get().root_url == "http://olkhovka.localhost:8123"


def test_a_dgbox_command_beside_the_demo_reads_its_port(demo_port, settings, tmp_path):
    assert settings.DGBOX_DEMO_PORT_FILE.read_text().strip() == "8123"
    env = {k: v for k, v in os.environ.items() if k != "DGBOX_SITE_PORT"}
    env.update(DJANGO_SETTINGS_MODULE="dgbox.settings.dev", DGBOX_STATE_DIR=str(tmp_path))
    code = "from django.conf import settings; print(settings.DGBOX_SITE_PORT)"
    read = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True)
    assert read.stdout.strip() == "8123"
    settings.DGBOX_DEMO_PORT_FILE.unlink()  # no demo has run: the default
    read = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                          capture_output=True, text=True)
    assert read.stdout.strip() == "8000"


def test_an_explicit_site_port_wins_over_the_demo_port(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DGBOX_SITE_PORT", "80")
    settings.DGBOX_SITE_PORT = 80
    settings.DGBOX_DEMO_PORT_FILE = tmp_path / "demo-port"
    serve_links_on(8123)
    assert settings.DGBOX_SITE_PORT == 80 and not settings.DGBOX_DEMO_PORT_FILE.exists()
