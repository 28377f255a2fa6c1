"""Platform tasks: fan-out of periodic jobs to every tenant, and per-tenant housekeeping.

This is the module a Celery worker discovers for the `tenants` app. The tasks of the
sub-packages live beside the code they run (launch/tasks.py, lifecycle/tasks.py,
metering/tasks.py) and are imported here so that a worker registers them; their names
(`tenants.<task>`) are what beat entries and `fan_out` send.
"""

from typing import Any

from celery import Task, current_app, shared_task
from celery.result import AsyncResult
from django.core.management import call_command

from . import content_changes
from .db import connection
from .launch.tasks import replenish_spares
from .lifecycle.tasks import backup_all
from .metering.tasks import meter_usage, summarise_usage
from .models import Tenant
from .platform_task import platform_task

__all__ = ["backup_all", "clear_expired_sessions", "compact_content_changes", "fan_out",
           "health_probe", "meter_usage", "replenish_spares", "send_to_tenant",
           "summarise_usage"]


def send_to_tenant(task: "Task[..., Any]", tenant: Tenant, *args: Any,
                   **kwargs: Any) -> "AsyncResult[Any]":
    """Queue `task` to run in `tenant`'s schema, whatever schema the caller is in."""
    return task.apply_async(args, kwargs, headers={"_schema_name": tenant.schema_name})


@platform_task("tenants.fan_out")
def fan_out(task_name: str, *args: Any) -> dict[str, str]:
    """Send the tenant task `task_name` once to every active tenant.

    Returns {schema name: task id} so a caller can follow each tenant's run.
    """
    task = current_app.tasks[task_name]
    schemas = Tenant.objects.launched().active().values_list("schema_name", flat=True)
    return {
        schema: task.apply_async(args, headers={"_schema_name": schema}).id
        for schema in schemas
    }


@platform_task("tenants.compact_content_changes")
def compact_content_changes() -> int:
    """Fold the log of content changes to a row per tenant schema (tenants/content_changes.py)."""
    return content_changes.compact()


@shared_task(name="tenants.clear_expired_sessions")
def clear_expired_sessions() -> None:
    call_command("clearsessions")


@shared_task(name="tenants.health_probe")
def health_probe() -> dict[str, str | None]:
    """Report where the task really ran: the connection's tenant and the database's own view of
    the schema, plus the tenant site's host name read from that schema."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        current_schema = cursor.fetchone()[0]
        cursor.execute("SELECT hostname FROM wagtailcore_site ORDER BY id LIMIT 1")
        row = cursor.fetchone()
    return {"schema": connection.schema_name, "current_schema": current_schema,
            "site_hostname": row[0] if row else None}
