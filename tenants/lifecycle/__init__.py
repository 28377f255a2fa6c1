"""A tenant's life after its launch: status, backups, restore and deletion.

* `status`: `get_tenant(slug)`, `suspend`, `resume`, `archive` (nothing is deleted);
* `backup`: `backup_tenant()` to one verified archive plus a copy of its files, and
  `restore_tenant()` as a new tenant, all or nothing;
* `scheduled_backups`: every active tenant once a day (`tasks.backup_all`), old sets pruned;
* `deletion`: `delete()`, export first, then schema, files, row and domains.

Each module uses only the ones listed before it.
"""

from .backup import (
           BackupError,
           BackupResult,
           RestoreError,
           RestoreResult,
           backup_tenant,
           restore_tenant,
)
from .deletion import DeleteResult, delete
from .status import LifecycleError, archive, get_tenant, resume, suspend

__all__ = ["BackupError", "BackupResult", "DeleteResult", "LifecycleError", "RestoreError",
           "RestoreResult", "archive", "backup_tenant", "delete", "get_tenant",
           "restore_tenant", "resume", "suspend"]
