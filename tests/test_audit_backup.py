"""The audit trail and backups: a backup, a restore and a deletion are each recorded in the
platform's log, and a restored tenant keeps its source's events (times included) behind a
trigger of its own. Committed (pg_dump reads committed rows only), so not in a rolled-back
transaction like tests/test_audit.py."""

import pytest
from django.db import DatabaseError, transaction
from django_tenants.utils import schema_context

from tenants import lifecycle
from tenants.audit.models import AuditEvent, Kind
from tenants.audit.service import record

from .factories import audit_triggers, launch


def events(schema, kind=None):
    with schema_context(schema):
        rows = AuditEvent.objects.order_by("id")
        return list(rows.filter(kind=kind) if kind else rows)


def test_backup_restore_and_delete_are_recorded_and_a_restored_tenant_keeps_its_log(
        committed):
    committed += ["au-src", "au-copy"]
    launch("Аудит", slug="au-src")
    with schema_context("au_src"):
        record(Kind.CONSOLE_ACTION, "before the backup")
    backed_up = lifecycle.backup_tenant("au-src")
    lifecycle.restore_tenant(backed_up.key, slug="au-copy")
    # The copy has the source's events, times included, and a trigger of its own.
    assert ([(e.kind, e.summary, e.at) for e in events("au_copy")]
            == [(e.kind, e.summary, e.at) for e in events("au_src")])
    assert audit_triggers("au_copy") == [
        ("audit_event_append_only", "au_copy", "audit_event_append_only"),
        ("audit_event_stamp", "au_copy", "audit_event_append_only")]
    with (schema_context("au_copy"), pytest.raises(DatabaseError, match="append-only"),
          transaction.atomic()):
        AuditEvent.objects.all().delete()
    lifecycle.delete("au-src", confirm="au-src")
    platform = [(e.kind, e.summary) for e in events("public")
                if e.summary in ("au-src", "au-copy")]
    assert platform == [(Kind.TENANT_LAUNCHED, "au-src"), (Kind.TENANT_BACKED_UP, "au-src"),
                        (Kind.TENANT_RESTORED, "au-copy"), (Kind.TENANT_BACKED_UP, "au-src"),
                        (Kind.TENANT_DELETED, "au-src")]
    deleted = events("public", Kind.TENANT_DELETED)[-1]
    assert deleted.details["backup"].startswith("backups/au-src/")
