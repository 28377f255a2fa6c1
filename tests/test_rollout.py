"""Staged rollouts: plan, rings, a poisoned tenant, health checks, a killed run, no-op runs, the
template; release channels and feature flags.

A rollout commits DDL from worker processes, so these tests work on committed tenants of their
own (the `fleet`, launched once for the module) rather than inside a rolled-back transaction.
"A new release" is the test-only app tests/rollout_fixture switched to its `migrations_v2`
module: 0002 adds a unique constraint, which really fails in a schema holding duplicate codes.
After each test the fleet and the template are put back to the first release.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django_tenants.signals import schema_migrated
from django_tenants.utils import schema_context, tenant_context

from tenants import flags
from tenants.host_cache import host_cache
from tenants.launch import spares, template
from tenants.models import (
    FeatureFlag,
    Rollout,
    RolloutStep,
    SpareSchema,
    TemplateSnapshot,
    Tenant,
)
from tenants.rollout import Reporter, RolloutBusy, RolloutOptions, build_plan, control, run_rollout
from tenants.rollout import engine as rollout_engine
from tenants.rollout import plan as rollout_plan
from tenants.rollout.runner import _LOCK_KEY

from .factories import launch

ROOT = Path(__file__).resolve().parent.parent
V1 = "tests.rollout_fixture.migrations"
V2 = "tests.rollout_fixture.migrations_v2"
NEW = ("rollout_fixture", "0002_unique_code")
FLEET = ["ro-canary", "ro-a", "ro-b", "ro-c", "ro-d"]
# Rings with --wave-size 2: canary [ro-canary], wave 1 [ro-a, ro-b], wave 2 [ro-c, ro-d].


def _forget_migrations():
    rollout_plan.reset_caches()
    rollout_engine.reset_engine()
    template.expected_migration_keys.cache_clear()
    template.migrations_fingerprint.cache_clear()
    template._snapshot_cache.clear()


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        tenants = {}
        for slug in FLEET:
            tenants[slug] = launch(f"Rollout {slug}", slug=slug).tenant
        Tenant.objects.filter(slug="ro-canary").update(release_channel="canary")
        connection.set_schema_to_public()
    yield tenants
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        Rollout.objects.all().delete()
        for tenant in Tenant.objects.filter(slug__in=FLEET):
            with connection.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {tenant.schema_name} CASCADE")
            tenant.delete()


@pytest.fixture
def committed(fleet, django_db_blocker):
    """Database access outside a transaction: what a rollout commits stays committed."""
    with django_db_blocker.unblock():
        yield fleet
        connection.set_schema_to_public()
        Rollout.objects.all().delete()
        Tenant.objects.filter(slug__in=FLEET).update(maintenance=False, release="",
                                                     status=Tenant.Status.ACTIVE)


@pytest.fixture
def release_v2(committed):
    """The code now ships rollout_fixture 0002. Afterwards every fleet schema and the template
    are put back to 0001 (what 0002's reverse would do) and the spare pool rebuilt."""
    with override_settings(MIGRATION_MODULES={"rollout_fixture": V2}):
        _forget_migrations()
        yield committed
    _forget_migrations()
    connection.set_schema_to_public()
    for schema in [template.TEMPLATE_SCHEMA, *(t.schema_name for t in committed.values())]:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {schema}.rollout_fixture_marker "
                           "DROP CONSTRAINT IF EXISTS rollout_marker_code_unique")
            cursor.execute(f"DELETE FROM {schema}.rollout_fixture_marker")
            cursor.execute(f"DELETE FROM {schema}.django_migrations "
                           "WHERE app = %s AND name = %s", NEW)
            cursor.execute(f"UPDATE {schema}.wagtailcore_page SET live = true WHERE depth = 2")
    spares.drop_stale()
    spares.fill_pool()
    assert template.current_snapshot_sql() is not None


def rollout(*args):
    """`dgbox rollout run` on the fleet only, in this process; returns (report, error)."""
    report = Path(tempfile.gettempdir()) / f"rollout-test-{os.getpid()}.json"
    argv = ["rollout", "run", "--tenants", ",".join(FLEET), "--wave-size", "2",
            "--report", str(report), *args]
    out, error = StringIO(), None
    try:
        call_command(*argv, stdout=out)
    except CommandError as exc:
        error = str(exc)
    connection.set_schema_to_public()
    data = json.loads(report.read_text())
    report.unlink()
    return data, error, out.getvalue()


def applied(schema_name) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {schema_name}.django_migrations "
                       "WHERE app = %s AND name = %s", NEW)
        return cursor.fetchone() is not None


def has_constraint(schema_name) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_constraint c JOIN pg_namespace n "
                       "ON n.oid = c.connamespace WHERE n.nspname = %s AND c.conname = %s",
                       [schema_name, "rollout_marker_code_unique"])
        return cursor.fetchone() is not None


def steps(report) -> dict:
    return {s["slug"]: s for s in report["steps"]}


# --- Plan ---------------------------------------------------------------------------------------


def test_plan_reads_every_schema_in_a_few_queries(release_v2):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        build_plan(FLEET[:1])
    with CaptureQueriesContext(connection) as queries:
        plan = build_plan(FLEET)
    # The same few queries however many tenants: no `migrate` per schema.
    assert len(queries) == len(one) <= 8, [q["sql"][:80] for q in queries]
    assert {t.slug for t in plan.tenants_with_work} == set(FLEET)
    assert all(t.work == [NEW] for t in plan.tenants)
    assert plan.template.work == [NEW] and plan.template_needs_refresh
    assert not plan.public.work  # rollout_fixture has no tables in public: bookkeeping only
    assert plan.public.bookkeeping == [NEW]
    versions = plan.version_map()
    assert versions == [{"pending": ["rollout_fixture.0002_unique_code"],
                         "tenants": FLEET, "releases": {"(as launched)": 5}}]

    out = StringIO()
    call_command("rollout", "plan", "--tenants", ",".join(FLEET), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["nothing_to_do"] is False
    assert {t["slug"]: t["channel"] for t in data["tenants"]}["ro-canary"] == "canary"
    text = StringIO()
    call_command("rollout", "plan", "--tenants", ",".join(FLEET), stdout=text)
    assert "5 to migrate" in text.getvalue()
    assert "rollout_fixture.0002_unique_code" in text.getvalue()


def test_plan_refuses_unknown_tenants(committed):
    with pytest.raises(CommandError, match="No tenant with slug atlantis"):
        call_command("rollout", "plan", "--tenants", "atlantis", stdout=StringIO())


# --- Run ------------------------------------------------------------------------------------------


def test_noop_rollout_finishes_in_seconds_and_touches_nothing(committed):
    before = dict(Tenant.objects.filter(slug__in=FLEET).values_list("slug", "updated_at"))
    started = time.perf_counter()
    report, error, out = rollout()
    elapsed = time.perf_counter() - started
    assert error is None, error
    assert report["status"] == "completed" and report["summary"]["nothing_to_do"]
    assert report["steps"] == []
    assert "Nothing to migrate" in out
    assert elapsed < 5, elapsed
    after = dict(Tenant.objects.filter(slug__in=FLEET).values_list("slug", "updated_at"))
    assert after == before


def _broken_release(app_configs=None, **_kwargs):
    """A model check that fails, registered by the tests below only."""
    return [checks.Error("the release's models are broken", id="dgbox.T018")]


@pytest.fixture
def broken_models_check():
    checks.register(_broken_release, checks.Tags.models)
    yield
    checks.registry.registry.registered_checks.discard(_broken_release)


def test_a_rollout_with_work_runs_the_model_checks_first_and_an_error_stops_it(
        release_v2, broken_models_check):
    with pytest.raises(CommandError, match="dgbox.T018") as raised:
        call_command("rollout", "run", "--tenants", ",".join(FLEET), stdout=StringIO())
    assert "nothing was migrated" in str(raised.value)
    connection.set_schema_to_public()
    assert not any(applied(slug.replace("-", "_")) for slug in FLEET)


def test_a_noop_rollout_starts_without_the_system_checks(committed, broken_models_check):
    report, error, _ = rollout()
    assert error is None, error
    assert report["status"] == "completed" and report["summary"]["nothing_to_do"]


def test_poisoned_tenant_halts_its_ring_and_a_rerun_after_the_fix_completes(release_v2):
    # ro-a (wave 1) holds two markers with the same code: 0002's unique constraint really fails
    # in its schema, and only there.
    with schema_context("ro_a"):
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO rollout_fixture_marker (code, note) "
                           "VALUES ('x', 'one'), ('x', 'two')")
    connection.set_schema_to_public()
    Tenant.objects.filter(slug="ro-d").update(status=Tenant.Status.SUSPENDED)

    report, error, _ = rollout("--workers", "2")
    assert error and "halted" in error and "ro-a" in error
    by_slug = steps(report)
    assert report["status"] == "halted"
    assert by_slug["ro-a"]["status"] == "failed"
    assert "rollout_fixture.0002_unique_code" in by_slug["ro-a"]["error"]
    assert "IntegrityError" in by_slug["ro-a"]["error"]
    assert "ro-a" in report["halt_reason"]
    # The ring before it and the template are upgraded; the poisoned schema is untouched
    # (all-or-nothing per tenant) and back out of maintenance; the next ring was not started.
    assert by_slug["template"]["status"] == "done" and applied(template.TEMPLATE_SCHEMA)
    assert by_slug["ro-canary"]["status"] == "done" and applied("ro_canary")
    assert not applied("ro_a") and not has_constraint("ro_a")
    for slug in ("ro-c", "ro-d"):
        assert by_slug[slug]["status"] == "pending" and by_slug[slug]["attempts"] == 0
        assert not applied(slug.replace("-", "_"))
    assert not Tenant.objects.filter(slug__in=FLEET, maintenance=True).exists()

    history = StringIO()
    call_command("rollout", "history", stdout=history)
    assert "halted" in history.getvalue()
    shown = StringIO()
    call_command("rollout", "show", stdout=shown)
    assert "ro-a" in shown.getvalue() and "IntegrityError" in shown.getvalue()

    # The fix: remove the duplicate. Running again resumes the same rollout.
    with schema_context("ro_a"):
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM rollout_fixture_marker WHERE note = 'two'")
    connection.set_schema_to_public()
    again, error, _ = rollout("--workers", "2")
    assert error is None, error
    assert again["rollout"] == report["rollout"] and again["runs"] == 2
    assert again["status"] == "completed"
    by_slug = steps(again)
    assert all(s["status"] == "done" for s in again["steps"])
    assert by_slug["ro-a"]["attempts"] == 2
    for slug in ("ro-canary", "template"):  # done in the first run: skipped
        assert by_slug[slug]["attempts"] == 1
    for tenant in Tenant.objects.filter(slug__in=FLEET):
        assert applied(tenant.schema_name) and has_constraint(tenant.schema_name)
        assert tenant.release == again["release"]
    suspended = Tenant.objects.get(slug="ro-d")
    assert suspended.status == Tenant.Status.SUSPENDED and not suspended.maintenance
    assert "service page" not in by_slug["ro-d"]["health"]  # a suspended site answers 503
    assert by_slug["ro-c"]["health"]["service page"] == "ok"


def test_the_first_step_of_a_pooled_ring_runs_here_and_the_workers_fork_after_it(
        release_v2, tmp_path):
    # Wave 1's first tenant is upgraded and health-checked in the rollout's own process; the
    # workers are forked after it and inherit what its check loaded (the tenant URL
    # configuration and views, compiled templates, cache clients) instead of each loading it
    # on its first tenant. The others run in the workers, checked as usual.
    log = tmp_path / "pids"

    def record(sender, schema_name, **_kwargs):
        with log.open("a") as out:
            out.write(f"{schema_name} {os.getpid()}\n")

    schema_migrated.connect(record, weak=False, dispatch_uid="test-rollout-pids")
    try:
        report, error, _ = rollout("--workers", "2")
    finally:
        schema_migrated.disconnect(dispatch_uid="test-rollout-pids")
    assert error is None, error
    pids = dict(line.split() for line in log.read_text().splitlines())
    here = str(os.getpid())
    assert pids["ro_canary"] == here  # a ring of one runs here, as it did
    assert pids["ro_a"] == here  # wave 1's first step, before the fork
    assert here not in {pids["ro_b"], pids["ro_c"], pids["ro_d"]}
    by_slug = steps(report)
    for slug in FLEET:
        assert by_slug[slug]["status"] == "done"
        assert by_slug[slug]["health"]["home page"] == "ok", by_slug[slug]["health"]
        assert applied(slug.replace("-", "_"))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_rollout_halted_mid_run_starts_no_tenant_until_resumed(release_v2, workers):
    """`dgbox rollout halt` (or the console) while the rollout runs: the runner finishes the
    tenant it is on, starts no other, waits, and carries on when resumed."""
    events = []

    class Operator(Reporter):
        def step_done(self, result):
            events.append(("done", result.slug))
            if result.slug == "ro-canary":  # halted as soon as the canary is upgraded
                pk = RolloutStep.objects.get(pk=result.step_id).rollout_id
                control.halt(pk, by="olga (console)")

        def message(self, text):
            events.append(("message", text))
            if text.startswith("Halted by olga (console)"):
                # While it waits, nothing runs and nothing after the canary has started.
                assert not RolloutStep.objects.filter(status="running").exists()
                assert not any(applied(f"ro_{x}") for x in "abcd")
                pk = Rollout.objects.get(status=Rollout.Status.RUNNING).pk
                control.resume(pk, by="olga (console)")

    outcome = run_rollout(RolloutOptions(tenants=FLEET, wave_size=2, workers=workers,
                                         health_check=False), Operator())
    assert outcome.status == Rollout.Status.COMPLETED
    order = [e[1] if e[0] == "done" else e[1].split(":")[0] for e in events
             if e[0] == "done" or "olga" in e[1] or "resumed" in e[1]]
    canary = order.index("ro-canary")
    assert order[canary + 1] == "Halted by olga (console)"
    assert order[canary + 2].endswith("resumed.")
    assert {"ro-a", "ro-b", "ro-c", "ro-d"} == set(order[canary + 3:])
    assert all(applied(f"ro_{x}") for x in ("canary", "a", "b", "c", "d"))
    outcome.rollout.refresh_from_db()
    assert outcome.rollout.halt_requested_at is None


def test_health_check_failure_halts_the_ring(release_v2):
    # ro-a's home page is unpublished: its schema migrates fine but the site answers 404.
    with schema_context("ro_a"):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE wagtailcore_page SET live = false WHERE depth = 2")
    connection.set_schema_to_public()

    report, error, _ = rollout("--workers", "1")
    assert error and "halted" in error
    by_slug = steps(report)
    failed = by_slug["ro-a"]
    assert failed["status"] == "failed"
    assert failed["error"].startswith("health check:") and "404" in failed["error"]
    assert failed["health"]["schema"] == "ok" and failed["health"]["migrations"] == "ok"
    assert applied("ro_a")  # the migration itself committed; the site is what is broken
    assert not Tenant.objects.get(slug="ro-a").maintenance
    # One worker: the ring stops at once, ro-b is not started; nor is the next ring.
    for slug in ("ro-b", "ro-c", "ro-d"):
        assert by_slug[slug]["status"] == "pending" and not applied(slug.replace("-", "_"))


def test_max_failures_lets_a_ring_continue(release_v2):
    with schema_context("ro_c"):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE wagtailcore_page SET live = false WHERE depth = 2")
    connection.set_schema_to_public()
    report, error, _ = rollout("--workers", "1", "--max-failures", "50%")
    assert report["status"] == "partial" and error and "partial" in error
    assert steps(report)["ro-c"]["status"] == "failed"
    assert steps(report)["ro-d"]["status"] == "done"


def test_killed_rollout_resumes_and_maintenance_covers_only_the_migrating_tenant(
        release_v2, tmp_path, client, database_url):
    marker = tmp_path / "hung"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="dgbox.settings.test",
               DATABASE_URL=database_url,
               DGBOX_TEST_ROLLOUT_MIGRATIONS=V2, DGBOX_TEST_ROLLOUT_HANG_SCHEMA="ro_b",
               DGBOX_TEST_ROLLOUT_HANG_FILE=str(marker), DGBOX_LOG_LEVEL="ERROR",
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "dgbox.cli", "rollout", "run", "--tenants", ",".join(FLEET),
         "--wave-size", "2", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the rollout never reached ro-b"
            time.sleep(0.2)
        # ro-b is half-way through its migration: it alone serves the maintenance page.
        host_cache.clear()
        hung = client.get("/ru/", HTTP_HOST="ro-b.localhost")
        assert hung.status_code == 503 and hung["Retry-After"]
        assert client.get("/ru/", HTTP_HOST="ro-a.localhost").status_code == 200
        assert client.get("/ru/", HTTP_HOST="ro-c.localhost").status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        proc.stdout.close()

    connection.set_schema_to_public()
    rollout_row = Rollout.objects.get()
    step = {s.slug: s for s in rollout_row.steps.all()}
    assert rollout_row.status == "running"  # killed: nobody could write anything else
    assert step["ro-b"].status == "running" and step["ro-a"].status == "done"
    assert Tenant.objects.get(slug="ro-b").maintenance  # left by the killed process
    assert not applied("ro_b")  # its migration's transaction died with it

    report, error, out = rollout("--workers", "2")
    assert error is None, error
    assert report["rollout"] == rollout_row.pk and report["runs"] == 2
    assert "Took out of maintenance" in out and "ro-b" in out
    by_slug = steps(report)
    assert by_slug["ro-b"]["attempts"] == 2 and by_slug["ro-b"]["status"] == "done"
    assert by_slug["ro-a"]["attempts"] == 1  # not migrated twice
    assert all(applied(t.replace("-", "_")) for t in FLEET)
    host_cache.clear()
    assert client.get("/ru/", HTTP_HOST="ro-b.localhost").status_code == 200


def test_template_is_upgraded_and_new_tenants_launch_at_the_new_release(release_v2):
    new_fingerprint = template.migrations_fingerprint()
    spares_before = set(SpareSchema.objects.values_list("schema_name", flat=True))
    report, error, _ = rollout("--tenants", "ro-canary")  # the fleet filter narrowed to one
    assert error is None, error
    assert steps(report)["template"]["applied"] == ["rollout_fixture.0002_unique_code"]
    assert applied(template.TEMPLATE_SCHEMA) and has_constraint(template.TEMPLATE_SCHEMA)
    assert TemplateSnapshot.objects.filter(fingerprint=new_fingerprint).exists()
    assert set(SpareSchema.objects.values_list("fingerprint", flat=True)) == {new_fingerprint}
    # The spares were migrated in place like the template, not dropped and built again.
    assert set(SpareSchema.objects.values_list("schema_name", flat=True)) == spares_before
    for name in spares_before:
        assert applied(name) and has_constraint(name)
    assert "rollout_marker_code_unique" in template.current_snapshot_sql()

    fresh = launch("Новая версия", slug="ro-fresh").tenant
    try:
        assert applied("ro_fresh") and has_constraint("ro_fresh")
        plan = build_plan(["ro-fresh", "ro-canary", "ro-b"])
        assert {t.slug: t.up_to_date for t in plan.tenants} == {
            "ro-fresh": True, "ro-canary": True, "ro-b": False}
        assert not plan.template_needs_refresh
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA ro_fresh CASCADE")
        fresh.delete()



def test_a_failed_template_snapshot_leaves_the_tenants_migrated_and_a_rerun_takes_it(
        release_v2):
    # The template's pg_dump runs while the tenants migrate; when it fails, the tenants are
    # still done, the rollout is partial and names the template, and the next run snapshots
    # the (already migrated) template.
    fingerprint = template.migrations_fingerprint()
    # The release's snapshot not taken yet (an earlier test of this release may have taken it).
    TemplateSnapshot.objects.filter(fingerprint=fingerprint).delete()
    with override_settings(DGBOX_PG_DUMP="/bin/false"):
        report, error, _ = rollout()
    assert report["status"] == "partial" and error
    by_slug = steps(report)
    assert by_slug["template"]["status"] == "failed"
    assert "pg_dump failed" in by_slug["template"]["error"]
    assert all(by_slug[slug]["status"] == "done" for slug in FLEET)
    assert applied(template.TEMPLATE_SCHEMA)
    assert not TemplateSnapshot.objects.filter(fingerprint=fingerprint).exists()

    report, error, _ = rollout()
    assert error is None, error
    assert report["runs"] == 2 and steps(report)["template"]["status"] == "done"
    assert TemplateSnapshot.objects.filter(fingerprint=fingerprint).exists()
    assert set(SpareSchema.objects.values_list("fingerprint", flat=True)) == {fingerprint}

def test_a_migrated_tenant_has_its_cached_entries_made_stale(release_v2):
    """The tenant's cache (tenants/tenant_cache.py) holds pickled model instances: a step that
    migrated a tenant gives it a new generation; a tenant left alone keeps its own."""
    from django.core.cache import cache

    from tenants import tenant_cache

    for schema in ("ro_canary", "ro_b"):
        with schema_context(schema):
            cache.set(tenant_cache.GENERATION, f"before-{schema}", timeout=None)
    report, error, _ = rollout("--tenants", "ro-canary")
    assert error is None, error
    assert steps(report)["ro-canary"]["applied"] == ["rollout_fixture.0002_unique_code"]
    with schema_context("ro_canary"):
        assert cache.get(tenant_cache.GENERATION) not in (None, "before-ro_canary")
    with schema_context("ro_b"):
        assert cache.get(tenant_cache.GENERATION) == "before-ro_b"


def test_signals_are_sent_when_models_may_change():
    from django.db import migrations, models

    def plan(*operations):
        migration = migrations.Migration("0099_x", "rollout_fixture")
        migration.operations = list(operations)
        return [(migration, False)]

    field = models.DateTimeField(null=True)
    assert not rollout_engine._changes_models(plan(
        migrations.AddField("marker", "seen_at", field),
        migrations.AddIndex("marker", models.Index(fields=["code"], name="marker_code_idx"))))
    for operation in (migrations.CreateModel("Other", [("id", models.AutoField(primary_key=True))]),
                      migrations.RenameModel("Marker", "Tag"),
                      migrations.AlterModelOptions("marker", {"permissions": [("x", "X")]}),
                      migrations.RunPython(migrations.RunPython.noop)):
        assert rollout_engine._changes_models(plan(operation)), operation


def test_only_one_rollout_at_a_time(committed):
    import psycopg

    db = connection.settings_dict
    with psycopg.connect(dbname=db["NAME"], user=db["USER"], host=db["HOST"] or None,
                         port=db["PORT"] or None, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
        with pytest.raises(RolloutBusy, match="Another rollout is running"):
            run_rollout(RolloutOptions(tenants=FLEET))


def test_bad_options_are_refused(committed):
    with pytest.raises(CommandError, match="--max-failures"):
        call_command("rollout", "run", "--max-failures", "lots", stdout=StringIO())
    with pytest.raises(CommandError, match="wave-size"):
        call_command("rollout", "run", "--wave-size", "0", stdout=StringIO())


# --- Channels and feature flags -----------------------------------------------------------------


@pytest.mark.django_db
def test_release_channel_puts_a_tenant_in_the_canary_ring(fleet):
    out = StringIO()
    call_command("rollout", "channel", "ro-c", "canary", stdout=out)
    assert "release channel canary" in out.getvalue()
    assert Tenant.objects.get(slug="ro-c").release_channel == "canary"
    assert rollout_plan.ring_of({"slug": "ro-c", "release_channel": "canary"}, set()) == "canary"
    assert rollout_plan.ring_of({"slug": "ro-b", "release_channel": "stable"}, {"ro-b"}) == \
        "canary"
    with pytest.raises(CommandError, match="No tenant"):
        call_command("rollout", "channel", "atlantis", stdout=StringIO())


@pytest.mark.django_db
def test_feature_flags_follow_the_channel_and_tenant_overrides(fleet):
    canary, stable = fleet["ro-canary"], fleet["ro-a"]
    canary.refresh_from_db()
    stable.refresh_from_db()
    flags.define("new-search", canary=True, stable=False, description="Search v2")
    assert flags.is_enabled("new-search", canary)
    assert not flags.is_enabled("new-search", stable)
    assert not flags.is_enabled("undefined-flag", canary)
    assert flags.is_enabled("undefined-flag", canary, default=True)

    # The current tenant comes from the connection, as in a request or a Celery task.
    with tenant_context(canary):
        assert flags.is_enabled("new-search")
    with schema_context(stable.schema_name):  # no Tenant instance: looked up by schema
        assert not flags.is_enabled("new-search")
    assert not flags.is_enabled("new-search")  # public schema: the stable default

    flags.set_for_tenant(stable, "new-search", True)
    with tenant_context(stable):
        assert flags.is_enabled("new-search")
    flags.set_for_tenant(canary, "new-search", False)
    assert not flags.is_enabled("new-search", canary)
    flags.set_for_tenant(canary, "new-search", None)
    assert flags.is_enabled("new-search", canary)
    assert flags.flags_for(stable) == {"new-search": True}

    flags.define("new-search", stable=True)
    assert FeatureFlag.objects.get(name="new-search").canary  # unchanged when not given
    out = StringIO()
    call_command("rollout", "flag", "list", "--tenant", "ro-a", stdout=out)
    assert "new-search" in out.getvalue() and "ro-a on" in out.getvalue()
    call_command("rollout", "flag", "unset", "new-search", "ro-a", stdout=StringIO())
    call_command("rollout", "flag", "delete", "new-search", stdout=StringIO())
    assert not flags.is_enabled("new-search", Tenant.objects.get(slug="ro-a"))


@pytest.mark.django_db
def test_flag_changes_from_other_processes_show_within_the_cache_time(fleet, monkeypatch):
    tenant = fleet["ro-b"]
    flags.define("beta-forms", stable=False)
    assert not flags.is_enabled("beta-forms", tenant)
    FeatureFlag.objects.filter(name="beta-forms").update(stable=True)  # no signal: "elsewhere"
    assert not flags.is_enabled("beta-forms", tenant)  # still the cached value
    flags.forget()  # what the cache's expiry does
    assert flags.is_enabled("beta-forms", tenant)


@pytest.mark.django_db
def test_maintenance_flag_serves_the_maintenance_page_and_keeps_status(fleet, client):
    tenant = Tenant.objects.get(slug="ro-c")
    tenant.maintenance = True
    tenant.save(update_fields=["maintenance"])
    response = client.get("/ru/", HTTP_HOST="ro-c.localhost")
    assert response.status_code == 503 and "Retry-After" in response
    assert Tenant.objects.get(slug="ro-c").status == Tenant.Status.ACTIVE
    assert client.get("/ru/", HTTP_HOST="ro-d.localhost").status_code == 200


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("max 100000\n", None),  # no quota: the affinity mask
    ("100000 100000\n", 1),  # a 1-CPU container limit
    ("150000 100000\n", 2),  # 1.5 CPUs: two workers
    ("50000 100000\n", 1),  # half a CPU: still one
])
def test_auto_workers_follow_the_containers_cpu_limit(tmp_path, cpu_max, expected):
    import os

    from tenants.rollout.runner import usable_cpus

    path = tmp_path / "cpu.max"
    path.write_text(cpu_max)
    mask = len(os.sched_getaffinity(0))
    assert usable_cpus(str(path)) == (mask if expected is None else min(mask, expected))
    assert usable_cpus(str(tmp_path / "missing")) == mask  # cgroup v1 or no cgroup: the mask
