"""Platform tasks: fan-out of periodic jobs to every tenant, and per-tenant housekeeping."""

from celery import current_app, shared_task
from django.core.management import call_command
from django.db import connection

from .models import Tenant


def send_to_tenant(task, tenant, *args, **kwargs):
    """Queue `task` to run in `tenant`'s schema, whatever schema the caller is in."""
    return task.apply_async(args, kwargs, headers={"_schema_name": tenant.schema_name})


@shared_task(name="tenants.fan_out", tenant_required=False)
def fan_out(task_name, *args):
    """Send the tenant task `task_name` once to every active tenant.

    Returns {schema name: task id} so a caller can follow each tenant's run.
    """
    task = current_app.tasks[task_name]
    schemas = Tenant.objects.launched().active().values_list("schema_name", flat=True)
    return {
        schema: task.apply_async(args, headers={"_schema_name": schema}).id
        for schema in schemas
    }


@shared_task(name="tenants.replenish_spares", tenant_required=False)
def replenish_spares():
    """Top the pool of ready-made schemas back up after a launch used one."""
    from .spares import fill_pool

    return fill_pool()


@shared_task(name="tenants.clear_expired_sessions")
def clear_expired_sessions():
    call_command("clearsessions")


@shared_task(name="tenants.health_probe")
def health_probe():
    """Report where the task really ran: the connection's tenant and the database's own view of
    the schema, plus the tenant site's host name read from that schema."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        current_schema = cursor.fetchone()[0]
        cursor.execute("SELECT hostname FROM wagtailcore_site ORDER BY id LIMIT 1")
        row = cursor.fetchone()
    return {"schema": connection.schema_name, "current_schema": current_schema,
            "site_hostname": row[0] if row else None}


@shared_task(name="tenants.backup_all", tenant_required=False)
def backup_all():
    """Daily: back up every active tenant to S3 and prune old backups."""
    from .scheduled_backups import backup_all as run

    return run()


@shared_task(name="tenants.meter_usage")
def meter_usage():
    """Hourly, in each tenant's schema: store today's (and yesterday's) usage figures."""
    from .metering import collect_usage

    return [(record.day.isoformat(), record.api_calls) for record in collect_usage()]
