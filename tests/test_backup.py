"""Tenant backup, restore, archive and delete (tenants/lifecycle/).

pg_dump runs in another process and only sees committed rows, so these tests do not run in
the usual rolled-back transaction: each one launches its own committed tenants with the
database unblocked and removes them (schema, rows, S3 prefix) afterwards. (pytest-django
creates the test database only if some test in the run is marked django_db: the last one is.)
"""

import io
import json

import pytest
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists, tenant_context
from wagtail.models import Page, Site

from infra import s3
from infra.storage import private_storage
from tenants import lifecycle
from tenants.lifecycle import backup
from tenants.models import Domain, Tenant

from .factories import launch

FILE_BYTES = "Заявление №1\n".encode() + bytes(range(256))


def _source_tenant(slugs, slug, *, content=False):
    slugs.append(slug)
    tenant = launch(f"Тест {slug}", slug=slug).tenant
    with tenant_context(tenant):
        if content:
            from demo.site import populate

            populate("ru")
        Page.objects.filter(slug="privacy").update(title="Политика конфиденциальности 2026")
        name = private_storage().save("applications/1/заявление.bin", ContentFile(FILE_BYTES))
        private_storage().save("applications/2/empty.txt", ContentFile(b""))
    connection.set_schema_to_public()
    return tenant, name


def _row_counts(schema):
    with connection.cursor() as cursor:
        return backup._count_rows(cursor, schema)


def _keys(prefix):
    return [info.key for info in s3.iter_objects(prefix)]


def _assert_nothing_left(slug):
    schema = slug.replace("-", "_")
    connection.set_schema_to_public()
    assert not schema_exists(schema)
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain=f"{slug}.localhost").exists()
    assert _keys(s3.tenant_prefix(schema)) == []


def test_backup_then_restore_equals_the_original(committed, client):
    source, name = _source_tenant(committed, "bk-src", content=True)
    out = io.StringIO()
    call_command("tenant", "backup", "bk-src", stdout=out)
    key = next(line.split()[1] for line in out.getvalue().splitlines()
               if line.strip().startswith("Archive:"))
    assert key.startswith("backups/bk-src/") and key.endswith(".tar.gz")
    assert s3.head(key)["ContentLength"] > 0

    metadata, sql = backup.read_archive(key)
    assert metadata["tenant"]["slug"] == "bk-src"
    assert metadata["domains"] == [{"domain": "bk-src.localhost", "is_primary": True}]
    assert metadata["row_counts"] == _row_counts("bk_src")
    assert metadata["row_counts"]["cms_servicepage"] > 5  # the demo content is in it
    assert {e["name"] for e in metadata["manifest"]} == {
        name, "applications/2/empty.txt"}
    assert _keys(metadata["files_prefix"])  # files copied beside the archive
    assert "CREATE SCHEMA bk_src;" in sql

    committed.append("bk-copy")
    out = io.StringIO()
    call_command("tenant", "restore", key, "--slug", "bk-copy", stdout=out)
    assert "Restored" in out.getvalue()

    restored = Tenant.objects.get(slug="bk-copy")
    assert restored.status == Tenant.Status.ACTIVE
    assert restored.schema_name == "bk_copy" and restored.name == source.name
    assert restored.primary_domain == "bk-copy.localhost"
    assert _row_counts("bk_copy") == _row_counts("bk_src")
    with tenant_context(restored):
        assert Page.objects.get(slug="privacy").title == "Политика конфиденциальности 2026"
        assert Site.objects.get().hostname == "bk-copy.localhost"
        with private_storage().open(name) as handle:
            assert handle.read() == FILE_BYTES
        assert private_storage().key_for(name).startswith("tenants/bk_copy/")
    connection.set_schema_to_public()
    with schema_context("bk_src"):  # the original is untouched
        assert Site.objects.get().hostname == "bk-src.localhost"
    response = client.get("/ru/", HTTP_HOST="bk-copy.localhost")
    assert response.status_code == 200 and source.name in response.content.decode()
    assert client.get("/ru/privacy/", HTTP_HOST="bk-copy.localhost").status_code == 200


def _retar(metadata, sql):
    return backup.pack({backup.SQL_MEMBER: sql.encode(),
                        backup.META_MEMBER: json.dumps(metadata).encode()})


def test_tampered_backups_are_refused_and_leave_nothing_behind(committed, tmp_path):
    _source, name = _source_tenant(committed, "bk-tamper")
    result = backup.backup_tenant("bk-tamper")
    metadata, sql = backup.read_archive(result.key)
    committed.append("bk-bad")

    # 1. schema.sql changed, metadata not: its sha256 no longer matches.
    s3.upload_bytes("backups/bk-tamper/edited.tar.gz", _retar(
        metadata, sql.replace("Политика конфиденциальности 2026", "Подмена")))
    with pytest.raises(CommandError, match="tampered"):
        call_command("tenant", "restore", "backups/bk-tamper/edited.tar.gz", "--slug", "bk-bad")
    _assert_nothing_left("bk-bad")

    # 2. The archive's bytes no longer match the sha256 stored with the object.
    archive = s3.download(result.key)
    s3.client().put_object(Bucket=s3.bucket_name(), Key="backups/bk-tamper/flipped.tar.gz",
                           Body=archive[:-1] + bytes([archive[-1] ^ 1]),
                           Metadata={"sha256": result.sha256})
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("tenant", "restore", "backups/bk-tamper/flipped.tar.gz", "--slug", "bk-bad")
    _assert_nothing_left("bk-bad")

    # 3. A consistent-looking archive whose rows differ: caught by the row counts, after the
    # dump was replayed; the transaction rolls back.
    extra = sql + ("\nINSERT INTO bk_tamper.django_session VALUES "
                   "('x', 'y', '2030-01-01 00:00:00+00');")
    forged = dict(metadata, parts={backup.SQL_MEMBER: {
        "sha256": backup._sha256(extra.encode()), "size": len(extra.encode())}})
    local = tmp_path / "forged.tar.gz"
    local.write_bytes(_retar(forged, extra))
    with pytest.raises(backup.RestoreError, match="row counts differ.*django_session"):
        backup.restore_tenant(str(local), slug="bk-bad")
    _assert_nothing_left("bk-bad")

    # 4. A backed-up file changed after the backup: copied, found to differ, deleted again.
    s3.upload_bytes(metadata["files_prefix"] + name, b"not the original")
    with pytest.raises(CommandError, match="differs from the backup's manifest"):
        call_command("tenant", "restore", result.key, "--slug", "bk-bad")
    _assert_nothing_left("bk-bad")

    # 5. --output PATH: the archive and a .sha256 file locally; a changed byte is refused.
    local = backup.backup_tenant("bk-tamper", output=str(tmp_path))
    assert local.key.startswith(str(tmp_path)) and backup.read_archive(local.key)[0]["rows"]
    data = bytearray(open(local.key, "rb").read())
    data[-1] ^= 1
    open(local.key, "wb").write(bytes(data))
    with pytest.raises(backup.RestoreError, match="does not match its .sha256"):
        backup.restore_tenant(local.key, slug="bk-bad")
    _assert_nothing_left("bk-bad")

    # A taken slug is refused like a launch would refuse it.
    with pytest.raises(backup.RestoreError, match="already taken"):
        backup.restore_tenant(result.key, slug="bk-tamper")


def test_delete_exports_first_then_removes_schema_and_files(committed, client, monkeypatch):
    tenant, name = _source_tenant(committed, "bk-del")
    prefix = s3.tenant_prefix("bk_del")
    assert len(_keys(prefix)) == 2

    for confirm in ([], ["--confirm", "bk-other"]):
        with pytest.raises(CommandError, match="--confirm bk-del"):
            call_command("tenant", "delete", "bk-del", *confirm)
    assert schema_exists("bk_del") and len(_keys(prefix)) == 2

    def broken_export(*_args, **_kwargs):
        raise s3.S3Error("endpoint down")

    monkeypatch.setattr(backup, "backup_tenant", broken_export)
    with pytest.raises(lifecycle.LifecycleError, match="nothing was deleted"):
        lifecycle.delete("bk-del", confirm="bk-del")
    monkeypatch.undo()
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ACTIVE  # put back after the failed export
    assert schema_exists("bk_del") and len(_keys(prefix)) == 2

    call_command("tenant", "archive", "bk-del", stdout=io.StringIO())
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.ARCHIVED
    assert client.get("/ru/", HTTP_HOST="bk-del.localhost").status_code == 410
    assert schema_exists("bk_del") and len(_keys(prefix)) == 2  # archive keeps everything

    out = io.StringIO()
    call_command("tenant", "delete", "bk-del", "--confirm", "bk-del", stdout=out)
    _assert_nothing_left("bk-del")
    assert client.get("/ru/", HTTP_HOST="bk-del.localhost").status_code == 404
    export = next(line.split()[1] for line in out.getvalue().splitlines()
                  if line.strip().startswith("Export:"))
    metadata, _sql = backup.read_archive(export)  # the export outlives the tenant
    assert metadata["tenant"]["status"] == Tenant.Status.ARCHIVED
    assert len(_keys(metadata["files_prefix"])) == 2
    audits = [k for k in _keys("backups/bk-del/") if k.endswith(".delete.json")]
    assert len(audits) == 1
    record = json.loads(s3.download(audits[0]))
    assert record["backup"] == export and record["files_deleted"] == 2

    # The slug is free again: the export restores under it.
    backup.restore_tenant(export, slug="bk-del")
    with tenant_context(Tenant.objects.get(slug="bk-del")):
        with private_storage().open(name) as handle:
            assert handle.read() == FILE_BYTES
    connection.set_schema_to_public()


def test_rename_schema_in_dump_touches_sql_not_data():
    sql = ("CREATE SCHEMA north;\n"
           "CREATE TABLE north.t (id bigint DEFAULT nextval('north.t_id_seq'::regclass));\n"
           "INSERT INTO north.t VALUES (1, 'north.localhost', 'north', 'it''s north.x');\n"
           "SELECT pg_catalog.setval('north.t_id_seq', 5, true);\n"
           "ALTER TABLE ONLY north.t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES north.u(id);\n"
           "CREATE INDEX northern ON north.t USING btree (northx);")
    out = backup.rename_schema_in_dump(sql, "north", "order")
    assert out == (
        'CREATE SCHEMA "order";\n'
        "CREATE TABLE \"order\".t (id bigint DEFAULT nextval('\"order\".t_id_seq'::regclass));\n"
        "INSERT INTO \"order\".t VALUES (1, 'north.localhost', 'north', 'it''s north.x');\n"
        "SELECT pg_catalog.setval('\"order\".t_id_seq', 5, true);\n"
        'ALTER TABLE ONLY "order".t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES "order".u(id);\n'
        'CREATE INDEX northern ON "order".t USING btree (northx);')


@pytest.mark.django_db  # rolled back; also makes pytest-django create the test database
def test_archive_refuses_twice():
    launch("Архив", slug="bk-arch")
    lifecycle.archive("bk-arch")
    with pytest.raises(lifecycle.LifecycleError, match="already archived"):
        lifecycle.archive("bk-arch")
    assert schema_exists("bk_arch")
