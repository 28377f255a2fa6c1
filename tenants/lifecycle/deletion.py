"""Deleting a tenant for good, export first (`dgbox tenant delete`).

The tenant is frozen (status archived, so nothing new is written), backed up with
tenants/lifecycle/backup.py, and only then is its schema dropped, its S3 prefix emptied and
its row and domains deleted. If the export fails nothing is deleted and the status is put
back. The row is deleted (not kept as "archived") so the slug and schema name are free again,
e.g. to restore the backup under the same slug; what was deleted, when, by whom and where the
backup is are kept in an audit record beside the backups (`backups/<slug>/<ts>.delete.json`,
kept with them) and in the platform's audit trail (`tenants.audit`).
"""

import getpass
import socket
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context

from infra import s3
from tenants import catalogue
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.db import connection
from tenants.models import Tenant

from . import backup
from .status import LifecycleError, get_tenant


@dataclass
class DeleteResult:
    slug: str
    schema_name: str
    backup_key: str
    backup_size: int
    files_deleted: int
    audit_key: str


def delete(slug: str, *, confirm: str | None, output: str = "s3") -> DeleteResult:
    """Export, then delete a tenant for good (see the module docstring)."""
    if confirm != slug:
        raise LifecycleError(
            f"Deleting '{slug}' drops its database schema and files: repeat its slug with "
            f"--confirm {slug} to go ahead. Nothing was deleted.")
    with schema_context(get_public_schema_name()):
        tenant = get_tenant(slug)
        children = list(tenant.children.values_list("slug", flat=True))
        if children:
            raise LifecycleError(
                f"Region '{slug}' still has municipalities ({', '.join(children)}); delete or "
                "move them first. Nothing was deleted.")
        previous = tenant.status
        tenant.status = Tenant.Status.ARCHIVED  # frozen while it is exported
        tenant.save(update_fields=["status", "updated_at"])
    try:
        exported = backup.backup_tenant(slug, output=output)
    except Exception as err:
        with schema_context(get_public_schema_name()):
            tenant.status = previous
            tenant.save(update_fields=["status", "updated_at"])
        raise LifecycleError(
            f"The export of '{slug}' failed, so nothing was deleted: {err}") from err

    schema = tenant.schema_name
    with schema_context(get_public_schema_name()), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        tenant.domains.all().delete()
        catalogue.remove_tenant(tenant)
        Tenant.objects.filter(pk=tenant.pk).delete()
    prefix = s3.tenant_prefix(schema)
    try:
        deleted = s3.delete_prefix(prefix)
    except s3.S3Error as err:
        raise LifecycleError(
            f"'{slug}' was exported to {exported.key} and its schema dropped, but its files "
            f"under {prefix} could not be deleted ({err}); delete them by hand.") from err
    audit_key = backup.write_audit(slug, {
        "action": "delete", "slug": slug, "schema_name": schema, "name": tenant.name,
        "status_before": previous, "at": datetime.now(UTC).isoformat(),
        "by": f"{getpass.getuser()}@{socket.gethostname()}", "backup": exported.key,
        "backup_sha256": exported.sha256, "files_deleted": deleted,
    })
    record(Kind.TENANT_DELETED, slug, object_type="tenants.tenant", object_id=tenant.pk,
           in_public=True, details={"schema": schema, "backup": exported.key,
                                    "backup_sha256": exported.sha256, "files_deleted": deleted,
                                    "status_before": previous})
    return DeleteResult(slug=slug, schema_name=schema, backup_key=exported.key,
                        backup_size=exported.size, files_deleted=deleted, audit_key=audit_key)
