"""Scheduled backups as a Celery task (beat entry `backup-tenants`).

Registered with Celery through `tenants.tasks` (the module a worker discovers)."""

from typing import Any

from celery import shared_task

from .scheduled_backups import backup_all as back_up_every_tenant


@shared_task(name="tenants.backup_all", tenant_required=False)
def backup_all() -> dict[str, dict[str, Any]]:
    """Daily: back up every active tenant to S3 and prune old backups."""
    return back_up_every_tenant()
