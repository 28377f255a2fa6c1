"""Celery task metrics, from Celery's signals (connected by dgbox/celery.py when the app is
made, so in every worker and in eager runs alike).

The start time is kept on the task's request, which is this run's own (a retried task gets a
new one), so concurrent threads or processes never mix their timings.
"""

import time
from typing import Any

from celery import Task
from celery.signals import task_failure, task_postrun, task_prerun, task_retry

from . import instruments

_STARTED = "_dgbox_started"


@task_prerun.connect
def _started(task: Task, **_kwargs: Any) -> None:
    setattr(task.request, _STARTED, time.perf_counter())


@task_postrun.connect
def _finished(task: Task, state: str | None = None, **_kwargs: Any) -> None:
    started = getattr(task.request, _STARTED, None)
    if started is not None:
        instruments.celery_task_duration.labels(task.name).observe(
            time.perf_counter() - started)
    if state == "SUCCESS":
        instruments.celery_tasks.labels(task.name, "succeeded").inc()


@task_failure.connect
def _failed(sender: Task | None = None, **_kwargs: Any) -> None:
    instruments.celery_tasks.labels(getattr(sender, "name", "unknown"), "failed").inc()


@task_retry.connect
def _retried(sender: Task | None = None, **_kwargs: Any) -> None:
    instruments.celery_tasks.labels(getattr(sender, "name", "unknown"), "retried").inc()
