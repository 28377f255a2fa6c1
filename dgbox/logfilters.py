"""Logging filters for outages (LOGGING in dgbox/settings/base.py).

Kept apart from dgbox/outages.py on purpose: logging is configured before the apps load and
in every process (CLI, workers), so this module imports nothing but the standard library and
django-guid's context variable (a `contextvars.ContextVar`, no Django).
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
