"""Fault tests: real Redis, PostgreSQL backends and SeaweedFS failing under a request.

Each module starts the servers it stops (tests/faults/servers.py), never the shared ones.
Tests that need another process or connection to see their rows use `committed_service`
(committed, deleted afterwards); the others run in the usual rolled-back transaction.
"""

import logging

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from services.models import ApplicationDraft, Case, OnlineService, UploadedFile
from services.notifications.models import Message

from ..factories import OnlineServiceFactory
from .servers import SIMPLE


@pytest.fixture
def committed_service(session_tenants, django_db_blocker):
    """An online service (one text question) on tenant A, committed: the worker process and
    other connections see it. It and all made for it are deleted afterwards."""
    tenant = session_tenants["a"]
    with django_db_blocker.unblock():
        with tenant_context(tenant):
            service = OnlineServiceFactory(slug="street-trading", spec=SIMPLE)
        connection.set_schema_to_public()
        try:
            yield service
        finally:
            connection.close()  # whatever a test did to it, clean up on a fresh one
            with tenant_context(tenant):
                cases = Case.objects.filter(service=service)
                Message.objects.filter(topic__in=list(cases.values_list("reference",
                                                                        flat=True))).delete()
                cases.delete()
                UploadedFile.objects.filter(draft__service=service).delete()
                ApplicationDraft.objects.filter(service=service).delete()
                OnlineService.objects.filter(pk=service.pk).delete()
            connection.set_schema_to_public()


@pytest.fixture
def quiet_logs_reset():
    """The outage log filters (dgbox/logfilters.py) let one line through per 30 s per
    process: each test starts with a fresh allowance and a window longer than itself, so
    what it logs is exactly what it asserts."""
    filters = [f for name in ("dgbox.cache", "tenants.metering.lost_counts",
                                     "tenants.limits.uncounted")
               for f in logging.getLogger(name).filters if hasattr(f, "seconds")]
    saved = [f.seconds for f in filters]
    for log_filter in filters:
        log_filter._next, log_filter.seconds = 0.0, 3600
    yield
    for log_filter, seconds in zip(filters, saved, strict=True):
        log_filter._next, log_filter.seconds = 0.0, seconds
