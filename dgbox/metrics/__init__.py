"""Prometheus metrics (prometheus_client), docs/observability.md.

- `instruments`: the counters and histograms the web and the workers update.
- `web`: the middleware counting requests by view and status and timing them.
- `tasks`: Celery signal receivers counting tasks by name and outcome and timing them.
- `fleet`: gauges read from the database when scraped (tenants by status, the outbox
  backlog, the progress of the latest rollout).
- `exposition`: the registry a scrape reads (every process of this pod through
  PROMETHEUS_MULTIPROC_DIR, or this process alone) and the internal metrics port.
- `views`: `/metrics` on the operator host (never on a tenant's host), optionally behind a
  bearer token.
"""
