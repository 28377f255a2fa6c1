"""Scheduled backups as a Celery task (beat entry `backup-tenants`).

Registered with Celery through `tenants.tasks` (the module a worker discovers).

A run can take longer than a Redis broker's visibility timeout (`DGBOX_BROKER_VISIBILITY_TIMEOUT`),
after which the broker hands the same message to a second worker: a PostgreSQL session
advisory lock makes that second delivery (or a second beat) skip instead of backing every
tenant up twice. A worker that dies releases the lock with its connection.
"""

import logging
from typing import Any

from django.db import connection

from tenants.platform_task import platform_task

from .scheduled_backups import backup_all as back_up_every_tenant

log = logging.getLogger(__name__)
_LOCK_KEY = 0x6467627862 + 1  # pg_try_advisory_lock key for scheduled backups


@platform_task("tenants.backup_all")
def backup_all() -> dict[str, dict[str, Any]]:
    """Daily: back up every active tenant to S3 and prune old backups (once at a time)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY])
        if not cursor.fetchone()[0]:
            log.warning("scheduled backups already running elsewhere: this delivery skips")
            return {}
    try:
        return back_up_every_tenant()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
