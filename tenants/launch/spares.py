"""A pool of schemas built ahead of time from the template snapshot.

Replaying the snapshot costs about 0.4 s of DDL (some 400 tables, indexes and constraints).
With a spare ready, a launch only renames it, so the launch itself stays well under half a
second; the pool is topped up after the launch commits (by a Celery task when a broker is
configured, in-process otherwise), to a size that follows the recent launch rate
(`pool_size()`). Spares built for other migrations than the running code's
are never used; whenever the template is refreshed (signal `template_refreshed`, connected in
`TenantsConfig.ready()`) they are dropped and the pool is filled from the new snapshot.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from tenants.db import connection
from tenants.models import SpareSchema, TemplateSnapshot, Tenant
from tenants.signals import template_refreshed

from . import template

SPARE_PREFIX = "dgbox_spare_"


RATE_WINDOW = timedelta(hours=1)


def pool_size() -> int:
    """How many spares to keep: DGBOX_SPARE_SCHEMAS, or as many as tenants were launched in the
    last hour, up to DGBOX_SPARE_SCHEMAS_MAX. Launches come in bursts (a region bringing its
    municipalities on board): one refill takes longer than one launch, so a pool of two drains
    in a burst; sized from the last hour, it has a spare for each launch of the next one."""
    floor: int = settings.DGBOX_SPARE_SCHEMAS
    if floor <= 0:
        return 0  # the pool is switched off
    ceiling: int = max(floor, settings.DGBOX_SPARE_SCHEMAS_MAX)
    recent = Tenant.objects.filter(created_at__gte=timezone.now() - RATE_WINDOW).count()
    return min(ceiling, max(floor, recent))


def claim_spare(schema_name: str) -> bool:
    """Inside the launch transaction: rename a spare to `schema_name`. False if none is ready."""
    spare = (
        SpareSchema.objects.select_for_update(skip_locked=True)
        .filter(fingerprint=template.migrations_fingerprint())
        .order_by("pk")
        .first()
    )
    if spare is None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER SCHEMA {spare.schema_name} RENAME TO {schema_name}")
    spare.delete()
    return True


def fill_pool(target: int | None = None) -> int:
    """Build spares until `target` (default `pool_size()`) match the current migrations.
    Returns how many were built."""
    target = pool_size() if target is None else target
    fingerprint = template.migrations_fingerprint()
    built = 0
    while SpareSchema.objects.filter(fingerprint=fingerprint).count() < target:
        sql = template.current_snapshot_sql()
        if sql is None:
            break  # stale template: refresh_template() fills the pool when it is done
        name = SPARE_PREFIX + secrets.token_hex(6)
        connection.set_schema_to_public()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(template.render_for_schema(sql, name))
            SpareSchema.objects.create(schema_name=name, fingerprint=fingerprint)
        built += 1
    return built


def drop_stale() -> int:
    """Drop spares built for other migrations than the running code's."""
    dropped = 0
    for spare in SpareSchema.objects.exclude(fingerprint=template.migrations_fingerprint()):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"DROP SCHEMA IF EXISTS {spare.schema_name} CASCADE")
            spare.delete()
        dropped += 1
    return dropped


@receiver(template_refreshed, dispatch_uid="tenants-restock-spares")
def restock(snapshot: TemplateSnapshot, **_kwargs: object) -> None:
    """A new snapshot: drop the spares of older migrations and build new ones."""
    drop_stale()
    fill_pool()
