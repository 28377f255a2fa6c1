"""One id on every log line of one piece of work: a request, a task, a CLI invocation.

The web request's id is django-guid's (dgbox/headers.py). This module carries it further:

- **Celery tasks**: a task sent while answering a request (or while running another task, or
  a CLI command) carries the sender's id in its `X-Request-ID` header; the worker runs the
  task under that id, so the request's lines and the task's lines share it. A task sent with
  no id (a beat schedule) gets a new one. django-guid's own Celery integration does the
  same but clears the id after each task: a task run eagerly inside a request (tests, the
  demo without a broker) would wipe the request's id for the rest of the request; here the
  previous id is put back instead (contextvars' token).
- **CLI commands**: `dgbox ...` runs under an id of its own (`invocation`), on its log
  lines and on the tasks it sends.

The tenant's schema on those lines needs nothing here: tenant-schemas-celery switches the
connection to the task's schema, and the log filter reads it (dgbox/logfilters.py).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django_guid.context import guid

if TYPE_CHECKING:
    from celery import Task

#: The header that carries the id, named as the HTTP header django-guid reads.
HEADER = "X-Request-ID"
_RESET = "_dgbox_request_id_reset"


def new_request_id() -> str:
    """A new id, in django-guid's own form (a UUID4's 32 hex digits)."""
    return uuid.uuid4().hex


@contextmanager
def invocation() -> Iterator[str]:
    """Run the block under a new id (a CLI command); the previous one is restored after."""
    token = guid.set(new_request_id())
    try:
        yield guid.get() or ""
    finally:
        guid.reset(token)


def _send_request_id(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    current = guid.get()
    if headers is not None and current and HEADER not in headers:
        headers[HEADER] = current


def _adopt_request_id(task: "Task", **_kwargs: Any) -> None:
    # The header, as a Redis or AMQP broker delivers it; in an eager run there is none and the
    # caller's id (a request's) is kept.
    sent = task.request.get(HEADER) or (task.request.headers or {}).get(HEADER)
    token = guid.set(sent or guid.get() or new_request_id())
    setattr(task.request, _RESET, token)


def _restore_request_id(task: "Task", **_kwargs: Any) -> None:
    token = getattr(task.request, _RESET, None)
    if token is not None:
        guid.reset(token)


def connect_to_celery() -> None:
    """Connect the receivers above to Celery's signals; dgbox/celery.py calls this when the app
    is loaded. Not done at import: the `dgbox` command imports this module, and importing
    Celery costs a tenth of a second it does not otherwise need (dgbox/__init__.py)."""
    from celery.signals import (  # noqa: PLC0415 - see the docstring
        before_task_publish,
        task_postrun,
        task_prerun,
    )

    before_task_publish.connect(_send_request_id)
    task_prerun.connect(_adopt_request_id)
    task_postrun.connect(_restore_request_id)
