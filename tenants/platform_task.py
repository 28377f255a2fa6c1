"""`@platform_task(name)`: a Celery task about the platform itself, run on the public schema.

Every dgbox task is tenant-bound (dgbox/celery.py refuses one sent or run without a tenant);
a platform task, such as fanning a job out to every tenant, opts out with the task option
`tenant_required=False`. Celery's type stubs do not know that option: it is set here, once,
and the task keeps its types.
"""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Task, shared_task

P = ParamSpec("P")
R = TypeVar("R")

_PLATFORM: dict[str, Any] = {"tenant_required": False}


def platform_task(name: str) -> Callable[[Callable[P, R]], "Task[P, R]"]:
    """`shared_task(name=name, tenant_required=False)`."""
    return shared_task(name=name, **_PLATFORM)
