"""The Celery worker's metrics port: imported by the worker only (CELERY_IMPORTS in
dgbox/settings/base.py), once Django's apps are ready.

The worker's main process runs no tasks (its pool processes do, and write their figures to
PROMETHEUS_MULTIPROC_DIR); it serves DGBOX_METRICS_PORT with the pod's task figures and the
fleet gauges read from the database (dgbox/metrics/fleet.py). A port rather than pushing
through a gateway: Prometheus scrapes workers like web pods, and a worker that died shows as
a target down instead of a stale figure.
"""

from typing import Any

from celery.signals import worker_init, worker_ready
from django.conf import settings

from .exposition import clear_multiproc_dir, scrape_registry, serve_internal_port
from .fleet import FleetCollector


@worker_init.connect
def _fresh_multiproc_dir(**_kwargs: Any) -> None:
    """Before the pool starts: no figures of a previous run of this pod's worker."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        clear_multiproc_dir(settings.PROMETHEUS_MULTIPROC_DIR)


@worker_ready.connect
def _serve_metrics(**_kwargs: Any) -> None:
    if settings.DGBOX_METRICS_PORT:
        serve_internal_port(settings.DGBOX_METRICS_PORT, scrape_registry(
            settings.PROMETHEUS_MULTIPROC_DIR, FleetCollector(own_connection=True)))
