"""The Celery application: tenant-aware from day one.

Every task is a `TenantBoundTask`: sent while serving tenant A, it carries A's schema in its
headers (tenant-schemas-celery) and runs in A's schema on the worker. A task that needs a
tenant and has none is refused when sent and again when run; it never falls back to the
public schema. Tasks that are about the platform itself (e.g. fanning a periodic job out to
every tenant) declare `tenant_required=False`.
"""

import logging.config
import os

from celery.signals import setup_logging, worker_process_init
from django.conf import settings
from django.db import connection, connections
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

# Imported for their signal receivers: the task metrics; the request id carried into tasks.
from dgbox import requestid
from dgbox.metrics import tasks as task_metrics  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.dev")


class TenantRequiredError(RuntimeError):
    """A tenant task was sent or run without a tenant."""


class TenantBoundTask(TenantTask):
    abstract = True
    #: Set False on platform-level tasks that legitimately run on the public schema.
    tenant_required = True

    @staticmethod
    def _public():
        # django_tenants.utils reads the settings when imported, and this module is imported
        # while they are (dgbox/__init__.py), so it is imported on first use.
        from django_tenants.utils import get_public_schema_name  # noqa: PLC0415

        return get_public_schema_name()

    def apply_async(self, args=None, kwargs=None, **options):
        if self.tenant_required:
            schema = (options.get("headers") or {}).get("_schema_name") or connection.schema_name
            if schema in (None, self._public()):
                raise TenantRequiredError(
                    f"Task {self.name} must be sent from inside a tenant (use "
                    "tenant_context(tenant) or tenants.tasks.send_to_tenant)."
                )
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, **kwargs):
        if self.tenant_required:
            if connection.schema_name in (None, self._public()):
                raise TenantRequiredError(
                    f"Task {self.name} arrived without a tenant and was not run."
                )
        return super().__call__(*args, **kwargs)


class DgboxCelery(CeleryApp):
    task_cls = "dgbox.celery:TenantBoundTask"


requestid.connect_to_celery()

app = DgboxCelery("dgbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**_kwargs):
    """Workers log as the web does (LOGGING: DGBOX_LOG_FORMAT, the request id and the schema
    on every line) instead of Celery's own format: a receiver here stops Celery from
    replacing the root logger's handlers."""
    logging.config.dictConfig(settings.LOGGING)


@worker_process_init.connect
def _fresh_connections(**_kwargs):
    """Forked worker processes must not share the parent's database connection."""
    for conn in connections.all(initialized_only=True):
        conn.close()
