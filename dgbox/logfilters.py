"""Logging filters for outages (LOGGING in dgbox/settings/base.py).

Kept apart from dgbox/outages.py on purpose: logging is configured before the apps load and
in every process (CLI, workers), so this module imports nothing but the standard library and
django-guid's context variable (a `contextvars.ContextVar`, no Django); the schema filter
reaches Django's connection only when a record is logged.
"""

import logging
import threading
import time

from django_guid.context import guid

#: The request attribute dgbox.outages sets on a request it answers with the 503 page.
FAILURE_ATTRIBUTE = "dgbox_dependency_failure"


class SkipHandledFailures(logging.Filter):
    """Drops django.request's "Internal Server Error" record for a request whose database or
    S3 failure dgbox.outages answers with the 503 page (and logs itself, once)."""

    def filter(self, record):
        request = getattr(record, "request", None)
        return not hasattr(request, FAILURE_ATTRIBUTE)


class OncePerInterval(logging.Filter):
    """Lets one record through per `seconds` in each process and counts the others.

    With Redis down every cache call fails, several per page; django-redis logs each one.
    No maintained library does this for the standard logging module, hence these few lines.
    """

    def __init__(self, seconds: float = 30):
        super().__init__()
        self.seconds = seconds
        self._next = 0.0
        self._skipped = 0
        self._lock = threading.Lock()

    def filter(self, record):
        now = time.monotonic()
        with self._lock:
            if now < self._next:
                self._skipped += 1
                return False
            self._next = now + self.seconds
            skipped, self._skipped = self._skipped, 0
        if skipped:
            record.msg = f"{record.msg} ({skipped} similar not logged in the last " \
                         f"{self.seconds:g} s)"
        return True


class RequestId(logging.Filter):
    """Puts the id of the request being answered on the record (`%(request_id)s`), "-"
    outside a request. The id is django-guid's context variable (dgbox/headers.py)."""

    def filter(self, record):
        record.request_id = guid.get() or "-"
        return True


def current_schema() -> str:
    """The schema of this thread's database connection (django-tenants' `schema_name`), "-"
    when there is none or it cannot be read (settings not loaded, no tenant backend). Never
    opens a connection: the wrapper keeps the name it last set."""
    try:
        from django.db import connection  # noqa: PLC0415 - logging is set up before Django

        return getattr(connection, "schema_name", None) or "-"
    except Exception:  # noqa: BLE001 - a log line must never fail for want of its schema
        return "-"


class Schema(logging.Filter):
    """Puts the schema of the tenant being served on the record (`%(schema)s`): the public
    schema's name for the national portal and the console, "-" outside Django."""

    def filter(self, record):
        record.schema = current_schema()
        return True
