"""Scheduled backups as a Celery task (beat entry `backup-tenants`).

Registered with Celery through `tenants.tasks` (the module a worker discovers)."""

from typing import Any

from tenants.platform_task import platform_task

from .scheduled_backups import backup_all as back_up_every_tenant


@platform_task("tenants.backup_all")
def backup_all() -> dict[str, dict[str, Any]]:
    """Daily: back up every active tenant to S3 and prune old backups."""
    return back_up_every_tenant()
