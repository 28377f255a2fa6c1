"""What a scrape reads, and the internal metrics port.

With PROMETHEUS_MULTIPROC_DIR set, every process of the pod (gunicorn's workers, Celery's
pool processes) writes its values to its own files in that directory, and a scrape sums the
files of all of them (prometheus_client's multiprocess mode): whichever process answers, the
figures are the pod's. Without it (development, `runserver`, a solo worker) a scrape reads
this process's own registry.

The internal port (DGBOX_METRICS_PORT) is prometheus_client's own HTTP server, started in a
process that serves no users: gunicorn's master (dgbox/gunicorn_conf.py) and the Celery
worker's main process (dgbox/celery.py). It answers every path with the metrics and is meant
for the pod network only (the chart's Service port `metrics`, never the ingress).
"""

from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector


def process_registry(multiproc_dir: str) -> CollectorRegistry:
    """The pod's figures: every process's files in `multiproc_dir`, or this process alone."""
    if not multiproc_dir:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=multiproc_dir)
    return registry


def scrape_registry(multiproc_dir: str, *extra: Collector) -> CollectorRegistry:
    """The pod's figures and the `extra` collectors (the fleet gauges) in one registry."""
    registry = CollectorRegistry()
    registry.register(process_registry(multiproc_dir))
    for collector in extra:
        registry.register(collector)
    return registry


def clear_multiproc_dir(multiproc_dir: str) -> None:
    """Make the directory, or remove the files a previous run of the pod's processes left in
    it (prometheus_client asks for an empty directory at start: old files would add a dead
    run's counts forever)."""
    Path(multiproc_dir).mkdir(parents=True, exist_ok=True)
    for path in Path(multiproc_dir).glob("*.db"):
        path.unlink(missing_ok=True)


#: The port is the pod's (or host's) own, reached by the scraper from outside the process.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  # nosec B104 - see above; the ingress never routes it


def serve_internal_port(port: int, registry: CollectorRegistry) -> None:
    """prometheus_client's HTTP server on `port`, in a daemon thread of this process."""
    start_http_server(port, addr=ALL_INTERFACES, registry=registry)
