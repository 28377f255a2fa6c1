"""Tenant-aware Celery: real worker on a real Redis broker, and the eager fallback."""

import pytest
from celery.result import AsyncResult
from django.db import connection
from django_tenants.utils import tenant_context

from dgbox.celery import TenantRequiredError
from tenants import lifecycle
from tenants.models import Tenant
from tenants.tasks import fan_out, health_probe, send_to_tenant

WAIT = 120  # seconds; readiness bound only, never a speed assertion


@pytest.mark.worker
def test_task_sent_from_tenant_a_runs_in_a_schema_on_a_worker(celery_worker, session_tenants):
    a, b = session_tenants["a"], session_tenants["b"]
    with tenant_context(a):
        result_a = health_probe.delay()
    with tenant_context(b):
        result_b = health_probe.delay()
    assert result_a.get(timeout=WAIT) == {
        "schema": "north", "current_schema": "north", "site_hostname": "north.localhost"}
    assert result_b.get(timeout=WAIT) == {
        "schema": "south", "current_schema": "south", "site_hostname": "south.localhost"}


@pytest.mark.worker
def test_send_to_tenant_from_the_public_schema(celery_worker, session_tenants):
    connection.set_schema_to_public()
    result = send_to_tenant(health_probe, session_tenants["m"])
    assert result.get(timeout=WAIT)["current_schema"] == "ryabinovka"


@pytest.mark.worker
def test_task_without_tenant_is_refused_by_the_worker(celery_worker, session_tenants):
    connection.set_schema_to_public()
    # Bypass the send-time check: a message that reaches the worker with the public schema.
    result = celery_worker.send_task("tenants.health_probe")
    with pytest.raises(Exception, match="without a tenant"):
        result.get(timeout=WAIT)


@pytest.mark.worker
def test_periodic_job_fans_out_to_every_active_tenant(celery_worker, session_tenants, db):
    sent = fan_out.delay("tenants.health_probe").get(timeout=WAIT)
    assert set(sent) == _active_schemas() >= {"north", "south", "ryabinovka"}
    for schema, task_id in sent.items():
        assert AsyncResult(task_id, app=celery_worker).get(timeout=WAIT)["current_schema"] == schema


def test_task_without_tenant_is_refused_when_sent(db):
    connection.set_schema_to_public()
    with pytest.raises(TenantRequiredError, match="must be sent from inside a tenant"):
        health_probe.delay()


def test_fan_out_skips_suspended_tenants(session_tenants, db):
    lifecycle.suspend("south")
    sent = fan_out.apply(args=("tenants.health_probe",)).get()
    assert "south" not in sent
    assert set(sent) == _active_schemas() >= {"north", "ryabinovka"}


def test_beat_schedule_entries_name_registered_tasks(settings):
    from dgbox.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
        for task_name in entry.get("args", ()):
            assert task_name in app.tasks, f"{name}: {task_name}"
            assert app.tasks[task_name].tenant_required, f"{task_name} must run per tenant"


def _active_schemas():
    return set(Tenant.objects.launched().active().values_list("schema_name", flat=True))
