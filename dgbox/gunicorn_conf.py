"""gunicorn's configuration for dgbox (`gunicorn -c python:dgbox.gunicorn_conf ...`): its own
log lines in the project's format, and the web pod's metrics with several worker processes.

Each worker counts its requests in its own files of PROMETHEUS_MULTIPROC_DIR
(dgbox/metrics/exposition.py). The master, which answers no requests and outlives its
workers, empties the directory when it starts and serves the sum of all workers on
DGBOX_METRICS_PORT, so a scrape never waits behind a busy worker and sees every worker's
counts, those of workers recycled since included. Only the settings are loaded here, not the
apps: the master keeps no database connection (the fleet gauges are the operator host's
/metrics and the Celery worker's port).
"""

import os
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from dgbox.metrics.exposition import clear_multiproc_dir, process_registry, serve_internal_port

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.production")  # as dgbox.wsgi

#: gunicorn's own lines (worker start and stop, the access log) in DGBOX_LOG_FORMAT too: its
#: loggers hand their records to LOGGING's root handler, with the request id and schema fields.
logconfig_dict = {**settings.LOGGING, "loggers": {
    **settings.LOGGING["loggers"],
    "gunicorn.error": {"propagate": True},
    "gunicorn.access": {"propagate": True},
}}


def on_starting(server: Any) -> None:
    if settings.DGBOX_METRICS_PORT and not settings.PROMETHEUS_MULTIPROC_DIR:
        raise ImproperlyConfigured(
            "DGBOX_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (a writable directory of the "
            "pod's own, e.g. an emptyDir): gunicorn's master serves the sum of its workers.")
    if settings.PROMETHEUS_MULTIPROC_DIR:
        clear_multiproc_dir(settings.PROMETHEUS_MULTIPROC_DIR)


def when_ready(server: Any) -> None:
    if settings.DGBOX_METRICS_PORT:
        serve_internal_port(settings.DGBOX_METRICS_PORT,
                            process_registry(settings.PROMETHEUS_MULTIPROC_DIR))
