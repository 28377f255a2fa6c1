"""Gauges read from the database when scraped: how the fleet is doing, for every process of
every pod alike (so they are served by one place each: the operator host's `/metrics` and the
worker's metrics port, never by the web pods' internal port).

- `dgbox_tenants{status, kind}`: tenants by lifecycle status (one row per status and kind).
- `dgbox_outbox_pending_messages`: messages waiting in the notification outboxes of all
  tenants, and `dgbox_outbox_pending_messages_by_tenant{tenant}` for the tenants that have
  any; `dgbox_outbox_oldest_pending_seconds`: age of the oldest one. The tenant label is
  safe here: only tenants with a backlog appear (none on a good day), and it names the
  tenant whose gateway or templates need looking at.
- `dgbox_rollout_steps{status}` of the latest rollout, `dgbox_rollout_info{release, status}`
  and `dgbox_rollout_running` (1 while one runs).
- `dgbox_fleet_up`: 1 when the queries above worked, 0 when the database did not answer (the
  other fleet gauges are then left out rather than reported as zero).

The outbox is read with one query over every tenant schema (a UNION ALL of one indexed count
per schema) and the results are kept DGBOX_METRICS_FLEET_SECONDS, so several Prometheus
servers scraping every 15 s cost one query per interval, whatever the number of tenants.
"""

import logging
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.notifications.choices import Status as MessageStatus
from services.notifications.models import Message
from tenants.models import Rollout, RolloutStep, Tenant

logger = logging.getLogger(__name__)

#: Tenants whose schema holds a live outbox.
OUTBOX_TENANT_STATUSES = (Tenant.Status.ACTIVE, Tenant.Status.SUSPENDED)


def tenant_counts() -> GaugeMetricFamily:
    family = GaugeMetricFamily("dgbox_tenants", "Tenants by lifecycle status and kind.",
                               labels=["status", "kind"])
    counts = {(row["status"], row["kind"]): row["n"]
              for row in Tenant.objects.values("status", "kind").annotate(n=Count("pk"))}
    for status in Tenant.Status.values:
        for kind in Tenant.Kind.values:
            family.add_metric([status, kind], counts.get((status, kind), 0))
    return family


def outbox_backlog() -> list[GaugeMetricFamily]:
    schemas = dict(Tenant.objects.filter(status__in=OUTBOX_TENANT_STATUSES).launched()
                   .values_list("schema_name", "slug"))
    rows: list[tuple[str, int, float | None]] = []
    if schemas:
        quote = connection.ops.quote_name
        table = quote(Message._meta.db_table)
        # Schema names come from the tenant table (django-tenants validates them) and are
        # quoted as identifiers; the status is a parameter.
        parts = [f"SELECT %s, count(*), extract(epoch FROM min(created_at)) "  # noqa: S608
                 f"FROM {quote(schema)}.{table} WHERE status = %s"  # nosec B608 - quoted names
                 for schema in schemas]
        params: list[str] = []
        for schema in schemas:
            params += [schema, MessageStatus.PENDING]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), params)
            rows = [(schema, count, oldest) for schema, count, oldest in cursor.fetchall()
                    if count]
    total = GaugeMetricFamily("dgbox_outbox_pending_messages",
                              "Notifications waiting in the outboxes of all tenants.",
                              value=sum(count for _, count, _ in rows))
    by_tenant = GaugeMetricFamily("dgbox_outbox_pending_messages_by_tenant",
                                  "Notifications waiting, for each tenant that has any.",
                                  labels=["tenant"])
    for schema, count, _ in rows:
        by_tenant.add_metric([schemas[schema]], count)
    oldest = [float(first) for _, _, first in rows if first is not None]
    age = GaugeMetricFamily("dgbox_outbox_oldest_pending_seconds",
                            "Age of the oldest notification waiting (0 when none waits).",
                            value=max(0.0, time.time() - min(oldest)) if oldest else 0.0)
    return [total, by_tenant, age]


def rollout_progress() -> list[GaugeMetricFamily]:
    steps = GaugeMetricFamily("dgbox_rollout_steps",
                              "Schemas of the latest rollout by step status.",
                              labels=["status"])
    info = GaugeMetricFamily("dgbox_rollout_info", "The latest rollout's release and status.",
                             labels=["release", "status"])
    latest = Rollout.objects.order_by("-started_at", "-pk").first()
    counts: dict[str, int] = {}
    if latest is not None:
        counts = dict(RolloutStep.objects.filter(rollout=latest).values_list("status")
                      .annotate(n=Count("pk")).values_list("status", "n"))
        info.add_metric([latest.release, latest.status], 1)
    for status in RolloutStep.Status.values:
        steps.add_metric([status], counts.get(status, 0))
    running = GaugeMetricFamily(
        "dgbox_rollout_running", "1 while a rollout runs (and is not halted), else 0.",
        value=int(latest is not None and latest.status == Rollout.Status.RUNNING))
    return [steps, info, running]


class FleetCollector(Collector):
    """The fleet gauges, read at most once per DGBOX_METRICS_FLEET_SECONDS per process.

    `own_connection`: collecting in a thread of its own (the worker's metrics port), whose
    database connection is closed after each read instead of being left open between scrapes.
    """

    def __init__(self, own_connection: bool = False) -> None:
        self.own_connection = own_connection
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at >= settings.DGBOX_METRICS_FLEET_SECONDS:
                self._families = self._read()
                self._read_at = time.monotonic()
            families = list(self._families)
        yield from families

    def _read(self) -> list[Metric]:
        try:
            if self.own_connection:
                connection.set_schema_to_public()
            families: list[Metric] = [tenant_counts(), *outbox_backlog(), *rollout_progress()]
            up = 1
        except DatabaseError:
            logger.warning("Fleet metrics: the database could not be read", exc_info=True)
            families, up = [], 0
        finally:
            if self.own_connection:
                connection.close()
        families.append(GaugeMetricFamily(
            "dgbox_fleet_up", "1 when the fleet gauges could be read from the database.",
            value=up))
        families.append(GaugeMetricFamily(
            "dgbox_fleet_read_timestamp_seconds", "When the fleet gauges were read.",
            value=timezone.now().timestamp()))
        return families
