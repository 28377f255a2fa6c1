"""The metrics the processes update, defined once (prometheus_client registers each name once
per process).

Labels are kept bounded on purpose: a view is a URL pattern's name (a few hundred at most,
never the path), a status is an HTTP status code, a task is a registered task's name. No
tenant label here: with thousands of tenants every label combination would be multiplied by
them (docs/observability.md, "Cardinality").

With PROMETHEUS_MULTIPROC_DIR set (gunicorn's and Celery's worker processes), prometheus_client
keeps each value in a memory-mapped file of that directory, per process, and a scrape sums
them (dgbox/metrics/exposition.py).
"""

from prometheus_client import Counter, Histogram

#: Seconds: a page is expected well under 0.5 s; the long tail up to a slow export.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Seconds: a message is sent in well under a second, a backup takes minutes.
TASK_BUCKETS = (0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0)

http_requests = Counter(
    "dgbox_http_requests", "HTTP requests answered, by view (URL pattern name), method and "
    "status code.", ["view", "method", "status"])
http_request_duration = Histogram(
    "dgbox_http_request_duration_seconds", "Time to answer an HTTP request, by view.",
    ["view"], buckets=LATENCY_BUCKETS)
celery_tasks = Counter(
    "dgbox_celery_tasks", "Celery tasks run, by task name and outcome (succeeded, failed, "
    "retried).", ["task", "outcome"])
celery_task_duration = Histogram(
    "dgbox_celery_task_duration_seconds", "Time a Celery task ran, by task name.", ["task"],
    buckets=TASK_BUCKETS)
