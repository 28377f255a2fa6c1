"""What a `dgbox` fleet command loads when it starts: no Wagtail API v3 (django-ninja), no URL
configuration (Django's system checks are skipped), no Celery and no boto3 (nothing sends a task
or touches S3), no requests (Wagtail's oEmbed finder is built on first use), while `dgbox check`
still loads and checks everything, and Celery still meets dgbox's app the moment anything
imports it. The list of commands (`dgbox --help`) loads no model at all and is Django's text.
Each case is a process of its own, started as a user starts one; the assertions are on modules
loaded, never on times."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# pytest-django creates the test database only for a session with a test that asks for it:
# without this mark, this module alone ran its processes against DATABASE_URL's own database.
pytestmark = pytest.mark.django_db
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
    heavy = ("celery", "kombu", "billiard", "dgbox.celery", "boto3", "s3transfer",
             "botocore.client", "storages.backends.s3", "infra.storage", "requests_hardened",
             "prometheus_client", "requests", "urllib3", "wagtail.embeds.finders.oembed")
    print("HEAVY", ",".join(sorted(m for m in heavy if m in sys.modules)))
    models = [m for m in ("tenants.models", "cms.models", "services.models", "wagtail.models",
                          "django.contrib.auth.models", "axes.models") if m in sys.modules]
    import gc
    from django.apps import apps
    print("MODELS", apps.models_ready, len(models), "GC", gc.isenabled(), gc.get_freeze_count() > 0)
"""
# The list of commands the way Django prints it: every model loaded first.
DJANGO_HELP = """
import sys
import django
django.setup()
from django.core.management import ManagementUtility
ManagementUtility(["dgbox", *sys.argv[1:]]).execute()
"""
# What a task module, the worker or the app's users do, each in a fresh process after
# django.setup(): Celery arrives with dgbox's app, configured from the settings.
CELERY_PROBE = """
import sys
import django
django.setup()
assert "celery" not in sys.modules or "dgbox.celery" in sys.modules
from services.letters.tasks import issue_letter
from celery import current_app
print("APP", current_app.main, issue_letter.app.main, current_app.conf.task_always_eager,
      "dgbox.celery" in sys.modules)
"""
# What `celery -A dgbox worker` does: find the app by the package's name, then import the
# apps' task modules, which registers every task.
WORKER_PROBE = """
from celery.app.utils import find_app
app = find_app("dgbox")
app.loader.import_default_modules()
import dgbox
print("WORKER", app.main, dgbox.celery_app is app,
      ",".join(sorted(t for t in app.tasks if not t.startswith("celery."))))
"""


def run(database_url, *argv):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, "-c", PROBE, "dgbox", *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.rsplit("LOADED ", 1)[1].split("\n", 1)[0].strip()
    return proc.stdout, set(filter(None, loaded.split(",")))


def heavy_modules(out):
    line = out.rsplit("HEAVY ", 1)[1].splitlines()[0]  # the probe prints more lines after it
    return set(filter(None, line.strip().split(",")))


def python(database_url, code, *argv):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dgbox.settings.test",
           "DATABASE_URL": database_url}
    proc = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("argv", [("rollout", "plan"), ("template", "status"),
                                  ("tenant", "list")])
def test_fleet_commands_start_without_the_api_v3_or_the_url_configuration(database_url, argv):
    out, loaded = run(database_url, *argv)
    assert loaded == set()
    assert out.strip()  # and did their work


@pytest.mark.parametrize("argv", [("tenant", "list"), ("rollout", "plan"), ("rollout", "run"),
                                  ("template", "status"), ("--help",), ("help", "rollout")])
def test_commands_that_send_no_task_and_touch_no_s3_start_without_celery_or_boto3(
        database_url, argv):
    out, _loaded = run(database_url, *argv)
    assert heavy_modules(out) == set()
    assert out.split("LOADED ", 1)[0].strip()  # and did their work


def models_and_gc(out):
    """(models ready, model modules loaded, collector on, objects frozen) after the command."""
    ready, count, _gc, enabled, frozen = out.rsplit("MODELS ", 1)[1].split()[:5]
    return ready == "True", int(count), enabled == "True", frozen == "True"


@pytest.mark.parametrize("argv", [(), ("help",), ("--help",), ("-h",), ("help", "--commands")])
def test_the_list_of_commands_is_djangos_without_loading_a_model(database_url, argv):
    out, _loaded = run(database_url, *argv)
    assert models_and_gc(out)[:2] == (False, 0)
    assert heavy_modules(out) == set()
    django = python(database_url, DJANGO_HELP, *(argv or ("help",)))
    assert out.split("LOADED ", 1)[0] == django
    assert "rollout" in django.split() and "migrate" in django.split()


@pytest.mark.parametrize("argv", [("tenant", "list"), ("shell", "-c", "print('ran')")])
def test_commands_run_with_the_collector_on_and_start_up_frozen(database_url, argv):
    out, _loaded = run(database_url, *argv)
    ready, count, enabled, frozen = models_and_gc(out)
    assert ready and count > 0
    assert enabled and frozen


def test_embeds_are_found_by_wagtails_oembed_finder_built_when_first_used(database_url):
    code = ("import sys\nimport django\ndjango.setup()\n"
            "from wagtail.embeds.finders import get_finders\n"
            "from wagtail.embeds.finders.oembed import OEmbedFinder\n"
            "finder, = get_finders()\n"
            "print('BUILT', 'finder' in vars(finder))\n"
            "wagtails = OEmbedFinder()\n"
            "for url in ('https://www.youtube.com/watch?v=dQw4w9WgXcQ', 'https://vimeo.com/1',\n"
            "            'https://example.org/видео', 'javascript:alert(1)'):\n"
            "    print('ACCEPT', finder.accept(url), wagtails.accept(url))\n"
            "print('REAL', type(finder.finder) is OEmbedFinder)\n")
    out = python(database_url, code)
    assert "BUILT False" in out
    accepts = [line.split()[1:] for line in out.splitlines() if line.startswith("ACCEPT")]
    assert accepts == [["True", "True"], ["True", "True"], ["False", "False"], ["False", "False"]]
    assert "REAL True" in out


def test_celery_arrives_with_dgboxs_app_whoever_imports_it(database_url):
    out = python(database_url, CELERY_PROBE)
    # The test settings run tasks eagerly: the configured app, not Celery's fallback one.
    assert out.split("APP ", 1)[1].split() == ["dgbox", "dgbox", "True", "True"]


def test_the_worker_finds_the_app_and_registers_every_task(database_url):
    out = python(database_url, WORKER_PROBE)
    name, same, tasks = out.split("WORKER ", 1)[1].split()
    assert (name, same) == ("dgbox", "True")
    assert {"services.issue_letter", "notifications.deliver", "webhooks.deliver",
            "tenants.fan_out", "tenants.replenish_spares", "cms.publish_scheduled"} <= set(
        tasks.split(","))


def test_renditions_use_the_default_storage_built_when_first_used(database_url):
    code = ("import sys\nimport django\ndjango.setup()\n"
            "print('BUILT', 'storages.backends.s3' in sys.modules)\n"
            "from django.core.files.storage import storages\n"
            "from wagtail.images.models import Rendition\n"
            "storage = Rendition._meta.get_field('file').storage\n"
            "print('SAME', storage.wrapped is storages['default'], type(storages['default']))\n")
    out = python(database_url, code)
    assert "BUILT False" in out
    assert "SAME True <class 'infra.storage.TenantPublicMediaS3Storage'>" in out


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
