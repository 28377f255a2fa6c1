"""Scheduled backups: every active tenant once a day (Celery beat), older backups pruned.

A backup is the set of objects `backups/<slug>/<stamp>.tar.gz`, `<stamp>.json` and
`<stamp>/files/...` (tenants/lifecycle/backup.py). Pruning deletes whole sets older than
DGBOX_BACKUP_KEEP_DAYS, always keeping the newest set, and never touches the audit records
of deleted tenants (`<stamp>.delete.json`).
"""

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from infra import s3
from tenants.models import Tenant

from .backup import backup_prefix, backup_tenant

log = logging.getLogger(__name__)
STAMP = re.compile(r"^(\d{8}T\d{12}Z)(?:\.tar\.gz|\.json|/files/.*)$")


def backup_sets(slug: str) -> dict[str, list[str]]:
    """{stamp: [keys]} of the tenant's backups (audit records excluded)."""
    prefix = backup_prefix(slug)
    sets: dict[str, list[str]] = {}
    for item in s3.iter_objects(prefix):
        match = STAMP.match(item.key[len(prefix):])
        if match:
            sets.setdefault(match.group(1), []).append(item.key)
    return sets


def prune(slug: str, *, keep_days: int | None = None,
          now: datetime | None = None) -> list[str]:
    """Delete backup sets older than `keep_days`, keeping the newest. Returns stamps removed."""
    keep_days = settings.DGBOX_BACKUP_KEEP_DAYS if keep_days is None else keep_days
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    sets = backup_sets(slug)
    removed = []
    for stamp in sorted(sets)[:-1]:  # the newest set always stays
        made = datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
        if made < cutoff:
            s3.delete_keys(sets[stamp])
            removed.append(stamp)
    return removed


def backup_all(*, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Back up every active tenant, then prune; one tenant's failure does not stop the rest."""
    report: dict[str, dict[str, Any]] = {}
    for slug in Tenant.objects.launched().active().values_list("slug", flat=True):
        try:
            result = backup_tenant(slug)
            report[slug] = {"key": result.key, "size": result.size,
                            "pruned": prune(slug, now=now)}
        except Exception as exc:  # reported per tenant, logged
            log.exception("scheduled backup of %s failed", slug)
            report[slug] = {"error": str(exc)}
    return report
