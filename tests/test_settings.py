"""Production settings pass `check --deploy` with no warnings; bad secrets are refused."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "k" * 20 + "-production-secret-for-the-check-only-0123456789"


def _check(env_extra):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.production",
           "DGBOX_BASE_DOMAIN": "gov.example", **env_extra}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests' session
    return subprocess.run([sys.executable, "-m", "dgbox.cli", "check", "--deploy",
                           "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_production_settings_pass_check_deploy():
    proc = _check({"DGBOX_SECRET_KEY": SECRET})
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "no issues" in proc.stdout


def test_production_refuses_the_development_secret():
    proc = _check({"DGBOX_SECRET_KEY": ""})
    assert proc.returncode != 0
    assert "Set DGBOX_SECRET_KEY" in proc.stderr


def test_production_keeps_every_storage_the_code_uses():
    """Citizens' uploads go to storages["private"]: production must define it too; public
    media (storages["default"]) is on S3 there unless DGBOX_PUBLIC_MEDIA says otherwise."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.production",
           "DGBOX_BASE_DOMAIN": "gov.example", "DGBOX_SECRET_KEY": SECRET}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    code = ("import django; django.setup(); from django.core.files.storage import storages; "
            "print(type(storages['private']).__name__, type(storages['default']).__name__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["TenantPrivateS3Storage", "TenantPublicMediaS3Storage"]
    local = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env={**env, "DGBOX_PUBLIC_MEDIA": "local"})
    assert local.stdout.split() == ["TenantPrivateS3Storage", "TenantFileSystemStorage"]
    wrong = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, timeout=300, env={**env, "DGBOX_PUBLIC_MEDIA": "disk"})
    assert wrong.returncode != 0 and "DGBOX_PUBLIC_MEDIA='disk': use s3 or local" in wrong.stderr
