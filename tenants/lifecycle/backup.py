"""Backing up one tenant and restoring it as a new tenant (`dgbox tenant backup|restore`).

A backup is one `tar.gz` archive stored at `backups/<slug>/<timestamp>.tar.gz` (outside the
tenant's prefix, so deleting the tenant keeps it) holding

* `schema.sql`: pg_dump of the tenant's schema only (DDL and rows), cleaned like the template
  snapshot (tenants/launch/template.py), taken in the same MVCC snapshot as the row counts;
* `metadata.json`: the tenant row and its domains, the row count of every table, the manifest
  of its S3 prefix (name, size, sha256 of every file: private files and the public media
  under `media/` alike), the sha256 of `schema.sql`, the
  migrations fingerprint of the code that made it, and where the files were copied.

The archive's own sha256 is in its S3 object metadata (checked on download) and in a small
sidecar `backups/<slug>/<timestamp>.json`. The files themselves are copied server-side to
`backups/<slug>/<timestamp>/files/`.

A restore creates a NEW tenant (new slug, schema and domain, validated like a launch) in one
database transaction: row and domain, the dump replayed under the new schema name, the Wagtail
site moved to the new domain, the row counts checked, the files copied to the new prefix and
checked byte for byte (sha256 and size) against the manifest. Any mismatch rolls the
transaction back, deletes the copied objects and raises `RestoreError`.
"""

import getpass
import hashlib
import io
import json
import logging
import os
import re
import socket
import subprocess
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from infra import s3
from tenants import catalogue, references
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.db import connection
from tenants.launch import LaunchError, LaunchRequest, template, validate_launch
from tenants.launch.validation import slug_to_schema
from tenants.models import Domain, Tenant

from .status import get_tenant

log = logging.getLogger(__name__)
audit = logging.getLogger("dgbox.audit")

BACKUPS_ROOT = "backups/"
FORMAT = "dgbox-tenant-backup/1"
SQL_MEMBER = "schema.sql"
META_MEMBER = "metadata.json"
# Tenant row fields carried over to a restored tenant (when the model has them).
COPIED_FIELDS = ("name", "kind", "default_language", "time_zone", "release_channel", "flags")


class BackupError(RuntimeError):
    """A backup could not be made; nothing was deleted or changed."""


class RestoreError(RuntimeError):
    """A restore was refused or failed verification; nothing was left behind."""


@dataclass
class BackupResult:
    key: str  # S3 key of the archive, or the local path with --output PATH
    size: int
    sha256: str
    files_prefix: str
    files: int
    metadata: dict[str, Any]


@dataclass
class RestoreResult:
    tenant: Tenant
    domain: str
    tables: int
    rows: int
    files: int


def backup_prefix(slug: str) -> str:
    return f"{BACKUPS_ROOT}{slug}/"


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- dump -----------------------------------------------------------------------------------

def _new_connection() -> Any:
    """A connection of our own (autocommit off): the caller's may be inside a transaction."""
    conn = connection.get_new_connection(connection.get_connection_params())
    conn.autocommit = False
    return conn


def _count_rows(cursor: Any, schema_name: str) -> dict[str, int]:
    # `cursor`: a psycopg cursor of our own connection or a Django cursor wrapper.
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
                   [schema_name])
    counts = {}
    for (table,) in cursor.fetchall():
        cursor.execute(f'SELECT count(*) FROM "{schema_name}"."{table}"')  # noqa: S608 - names from the catalogue and our models, values as parameters # nosec B608
        counts[table] = cursor.fetchone()[0]
    return counts


def dump_schema(schema_name: str) -> tuple[str, dict[str, int]]:
    """pg_dump of one schema and the row count of each of its tables, both from one snapshot
    (a REPEATABLE READ transaction exports it; pg_dump runs with --snapshot)."""
    conn = _new_connection()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = _count_rows(cursor, schema_name)
            env, conn_args = template.pg_env_and_args()
            cmd = [
                template.find_pg_dump(), *conn_args, "--schema", schema_name, "--no-owner",
                "--no-privileges", "--no-comments", "--inserts", "--rows-per-insert=500",
                "--no-password", f"--snapshot={snapshot}",
            ]
            result = subprocess.run(cmd, env=env, capture_output=True, text=True,  # noqa: S603
                                    check=False)
        conn.rollback()
    finally:
        conn.close()
    if result.returncode != 0:
        raise BackupError(f"pg_dump of schema {schema_name} failed: {result.stderr.strip()}")
    sql = template.strip_session_settings(result.stdout)
    if f"CREATE SCHEMA {schema_name};" not in sql:
        raise BackupError(f"pg_dump output does not create schema {schema_name}; refusing it.")
    return sql, counts


_LITERAL = re.compile(r"'(?:[^']|'')*'")


def rename_schema_in_dump(sql: str, old: str, new: str) -> str:
    """The dump with every reference to schema `old` pointing at `new`.

    Only SQL, never data: outside string literals `CREATE SCHEMA old` and qualified names
    `old.x`; inside them only the relation names pg_dump writes as `'old.x'::regclass` and
    `setval('old.x', ...)`. A page whose text mentions "old.something" stays as it was.
    """
    name = rf'(?:{re.escape(old)}\b|"{re.escape(old)}")'
    code = re.compile(rf"(?<![\w.\"]){name}(?=\.)|(?<=SCHEMA ){name}")
    relation = re.compile(rf"^'(?:{re.escape(old)}|\"{re.escape(old)}\")\.")
    quoted = f'"{new}"'  # quoted: a slug may be an SQL keyword
    out, pos = [], 0
    for match in _LITERAL.finditer(sql):
        out.append(code.sub(quoted, sql[pos:match.start()]))
        literal = match.group(0)
        before = sql[max(0, match.start() - 7):match.start()]
        after = sql[match.end():match.end() + 10]
        if before.endswith("setval(") or after.startswith("::regclass"):
            literal = relation.sub(f"'{quoted}.", literal)
        out.append(literal)
        pos = match.end()
    out.append(code.sub(quoted, sql[pos:]))
    return "".join(out)


# --- backup ---------------------------------------------------------------------------------

def _tenant_fields(tenant: Tenant) -> dict[str, Any]:
    fields = {name: getattr(tenant, name) for name in COPIED_FIELDS if hasattr(tenant, name)}
    fields.update(slug=tenant.slug, schema_name=tenant.schema_name, status=tenant.status,
                  parent=tenant.parent.slug if tenant.parent else None,
                  created_at=tenant.created_at.isoformat() if tenant.created_at else None)
    return fields


def _copy_and_check_files(src: str, dst: str,
                          expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copy src to dst server-side, then check the copy against `expected` (the manifest of
    src); entries without a stored sha256 get one computed from the copy's bytes."""
    s3.copy_prefix(src, dst)
    copied = {entry["name"]: entry for entry in s3.manifest(dst)}
    names = {entry["name"] for entry in expected}
    if set(copied) != names:
        raise BackupError(f"files changed while backing up ({len(names)} listed, "
                          f"{len(copied)} copied); run the backup again")
    result = []
    for entry in expected:
        copy = copied[entry["name"]]
        if copy["size"] != entry["size"] or copy["sha256"] != entry["sha256"]:
            raise BackupError(f"file {entry['name']} changed while backing up; run it again")
        sha = entry["sha256"]
        if not sha:
            sha, _size = s3.object_sha256(copy["key"])
        result.append({"name": entry["name"], "size": entry["size"], "sha256": sha})
    return result


def backup_tenant(slug: str, *, output: str = "s3") -> BackupResult:
    """Back up one tenant (see the module docstring); `output` is "s3" or a local path (file,
    or directory to write `<slug>-<timestamp>.tar.gz` into). The files always go to S3."""
    with schema_context(get_public_schema_name()):
        tenant = get_tenant(slug)
        domains = [{"domain": d.domain, "is_primary": d.is_primary}
                   for d in tenant.domains.order_by("domain")]
        fields = _tenant_fields(tenant)
    schema = tenant.schema_name
    stamp = _timestamp()
    files_prefix = f"{backup_prefix(slug)}{stamp}/files/"
    source_prefix = s3.tenant_prefix(schema)

    sql, counts = dump_schema(schema)
    sql_bytes = sql.encode()
    source_manifest = s3.manifest(source_prefix)
    try:
        files = _copy_and_check_files(source_prefix, files_prefix, source_manifest)
    except Exception:
        s3.delete_prefix(files_prefix)
        raise

    metadata = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "created_by": f"{getpass.getuser()}@{socket.gethostname()}",
        "tenant": fields,
        "domains": domains,
        "migrations_fingerprint": template.migrations_fingerprint(),
        "row_counts": counts,
        "rows": sum(counts.values()),
        "source_prefix": source_prefix,
        "files_prefix": files_prefix,
        "manifest": files,
        "files_bytes": sum(entry["size"] for entry in files),
        "parts": {SQL_MEMBER: {"sha256": _sha256(sql_bytes), "size": len(sql_bytes)}},
    }
    meta_bytes = json.dumps(metadata, ensure_ascii=False, indent=1, sort_keys=True).encode()
    archive = pack({SQL_MEMBER: sql_bytes, META_MEMBER: meta_bytes})
    digest = _sha256(archive)
    archive_info = {"sha256": digest, "size": len(archive)}

    try:
        if output == "s3":
            key = f"{backup_prefix(slug)}{stamp}.tar.gz"
            s3.upload_bytes(key, archive, content_type="application/gzip")
            sidecar = {**metadata, "archive": {"key": key, **archive_info}}
            s3.upload_bytes(f"{backup_prefix(slug)}{stamp}.json",
                            json.dumps(sidecar, ensure_ascii=False, indent=1).encode(),
                            content_type="application/json")
        else:
            path = Path(output)
            if path.is_dir():
                path = path / f"{slug}-{stamp}.tar.gz"
            path.write_bytes(archive)
            path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
            key = str(path)
    except Exception:
        s3.delete_prefix(files_prefix)
        raise
    record(Kind.TENANT_BACKED_UP, slug, obj=tenant, in_public=True, details={
        "schema": schema, "archive": key, "sha256": digest, "tables": len(counts),
        "rows": metadata["rows"], "files": len(files)})
    return BackupResult(key=key, size=len(archive), sha256=digest, files_prefix=files_prefix,
                        files=len(files), metadata=metadata)


def pack(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(datetime.now(UTC).timestamp())
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- restore --------------------------------------------------------------------------------

def read_archive(source: str) -> tuple[dict[str, Any], str]:
    """(metadata, sql) of an archive, from a local path or an S3 key, every checksum checked."""
    if os.path.exists(source):
        data = Path(source).read_bytes()
        sidecar = Path(source + ".sha256")
        if sidecar.exists() and sidecar.read_text().split()[0] != _sha256(data):
            raise RestoreError(f"{source}: the archive does not match its .sha256 file; "
                               "it is damaged or was changed. Nothing was restored.")
    else:
        try:
            data = s3.download(source)  # checks the sha256 stored with the object
        except s3.S3NotFound as err:
            raise RestoreError(f"No backup archive {source!r} (a local path or an S3 key "
                               "such as backups/<slug>/<timestamp>.tar.gz).") from err
        except s3.S3Error as err:
            raise RestoreError(f"{err}. Nothing was restored.") from err
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = {m.name: cast(IO[bytes], tar.extractfile(m)).read()  # files: never None
                       for m in tar.getmembers() if m.isfile()}
    except (tarfile.TarError, OSError, EOFError) as err:
        raise RestoreError(f"{source} is not a readable backup archive ({err}).") from err
    if META_MEMBER not in members or SQL_MEMBER not in members:
        raise RestoreError(f"{source} is not a dgbox tenant backup (no {META_MEMBER} / "
                           f"{SQL_MEMBER}).")
    metadata = json.loads(members[META_MEMBER])
    if metadata.get("format") != FORMAT:
        raise RestoreError(f"{source}: unknown backup format {metadata.get('format')!r}.")
    expected = metadata["parts"][SQL_MEMBER]
    sql_bytes = members[SQL_MEMBER]
    if _sha256(sql_bytes) != expected["sha256"] or len(sql_bytes) != expected["size"]:
        raise RestoreError(f"{source}: {SQL_MEMBER} does not match the sha256 in its metadata; "
                           "the archive is damaged or was tampered with. Nothing was restored.")
    return metadata, sql_bytes.decode()


def _check_files(dst: str, manifest: list[dict[str, Any]]) -> None:
    found = {entry["name"]: entry for entry in s3.manifest(dst)}
    expected = {entry["name"]: entry for entry in manifest}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        raise RestoreError(f"files differ from the backup's manifest: missing {missing[:5]}, "
                           f"unexpected {extra[:5]}")
    for name, entry in expected.items():
        sha, size = s3.object_sha256(found[name]["key"])
        if sha != entry["sha256"] or size != entry["size"]:
            raise RestoreError(f"file {name} differs from the backup's manifest (sha256 "
                               f"{sha[:12]}…, {size} bytes; expected {entry['sha256'][:12]}…, "
                               f"{entry['size']} bytes)")


def restore_tenant(source: str, *, slug: str, domain: str | None = None) -> RestoreResult:
    """Restore a backup (S3 key or local path) as a new tenant; see the module docstring."""
    metadata, sql = read_archive(source)
    if metadata["migrations_fingerprint"] != template.migrations_fingerprint():
        raise RestoreError(
            "The backup was made by a release with other migrations "
            f"({metadata['migrations_fingerprint']}, this code: "
            f"{template.migrations_fingerprint()}); restore it with that release, then "
            "upgrade the restored tenant. Nothing was restored.")
    old = metadata["tenant"]
    connection.set_schema_to_public()
    try:
        req, parent = validate_launch(LaunchRequest(
            name=old["name"], kind=old["kind"], parent=old.get("parent"),
            admin_email="restore@example.org", slug=slug, domain=domain,
            language=old.get("default_language"), time_zone=old.get("time_zone")))
    except LaunchError as err:
        raise RestoreError("\n".join(err.messages)) from err
    schema = slug_to_schema(req.slug)
    if schema_exists(schema):
        raise RestoreError(f"Schema {schema} already exists (a leftover?); choose another slug.")
    dst = s3.tenant_prefix(schema)
    if next(s3.iter_objects(dst), None) is not None:
        raise RestoreError(f"S3 prefix {dst} is not empty (files of an earlier tenant?); "
                           "choose another slug or clean it up first.")
    renamed = rename_schema_in_dump(sql, old["schema_name"], schema)
    old_hosts = [d["domain"] for d in metadata["domains"]]
    copied = False
    try:
        with transaction.atomic():
            tenant = Tenant(schema_name=schema, slug=req.slug, parent=parent,
                            status=Tenant.Status.PROVISIONING)
            for name in COPIED_FIELDS:
                if name in old and hasattr(tenant, name):
                    setattr(tenant, name, old[name])
            tenant.name = req.name
            references.save_with_prefix(tenant)  # its own: the original may still exist
            Domain.objects.create(domain=req.domain, tenant=tenant, is_primary=True)
            with connection.cursor() as cursor:
                cursor.execute(renamed)
                cursor.execute(
                    f'UPDATE "{schema}".wagtailcore_site SET hostname = %s '  # noqa: S608 - names from the catalogue and our models, values as parameters # nosec B608
                    "WHERE is_default_site OR hostname = ANY(%s)", [req.domain, old_hosts])
                counts = _count_rows(cursor, schema)
            connection.set_schema_to_public()
            if counts != metadata["row_counts"]:
                diff = sorted(t for t in set(counts) | set(metadata["row_counts"])
                              if counts.get(t) != metadata["row_counts"].get(t))
                raise RestoreError(f"row counts differ from the backup's in {len(diff)} "
                                   f"table(s): {', '.join(diff[:5])}")
            copied = True
            s3.copy_prefix(metadata["files_prefix"], dst)
            _check_files(dst, metadata["manifest"])
            tenant.status = Tenant.Status.ACTIVE
            tenant.save(update_fields=["status", "updated_at"])
    except Exception as err:
        if copied:
            try:
                s3.delete_prefix(dst)
            except s3.S3Error:
                log.exception("Restore failed and the copied files under %s could not be "
                              "deleted; delete them by hand.", dst)
        if isinstance(err, RestoreError):
            raise RestoreError(f"Restore of {source} refused: {err}. Nothing was left "
                               "behind (schema and files removed).") from err
        raise
    finally:
        connection.set_schema_to_public()
    record(Kind.TENANT_RESTORED, req.slug, obj=tenant, in_public=True, details={
        "archive": source, "schema": schema, "domain": req.domain, "from": old["slug"]})
    try:  # the restored tenant's services in the national catalogue, at their new address
        catalogue.rebuild(tenant)
    except Exception:  # the restore stands; the index can be rebuilt later
        log.exception("The national catalogue could not list the restored tenant %s; run "
                      "`dgbox catalogue rebuild --tenant %s`.", req.slug, req.slug)
    return RestoreResult(tenant=tenant, domain=req.domain, tables=len(counts),
                         rows=sum(counts.values()), files=len(metadata["manifest"]))


def write_audit(slug: str, entry: dict[str, Any]) -> str:
    """An audit record beside the tenant's backups (kept when the tenant is gone)."""
    key = f"{backup_prefix(slug)}{_timestamp()}.{entry['action']}.json"
    s3.upload_bytes(key, json.dumps(entry, ensure_ascii=False, indent=1).encode(),
                    content_type="application/json")
    audit.info("%s", json.dumps(entry, ensure_ascii=False))
    return key
