"""A pool of schemas built ahead of time from the template snapshot.

Replaying the snapshot costs about 0.4 s of DDL (some 400 tables, indexes and constraints).
With a spare ready, a launch only renames it, so the launch itself stays well under half a
second; the pool is topped up after the launch commits (by a Celery task when a broker is
configured, in-process otherwise), to a size that follows the recent launch rate
(`pool_size()`). Spares built for other migrations than the running code's
are never used; whenever the template is refreshed (signal `template_refreshed`, connected in
`TenantsConfig.ready()`) they are dropped and the pool is filled from the new snapshot.

A rollout refreshes the template by migrating it with its own engine; it then migrates the
spares of the previous release the same way (`upgrade_stale`) instead: a spare is a tenant
schema before its launch, so the rollout's small migration takes milliseconds where dropping
some 400 tables and replaying the snapshot took about a second per spare (and several under
load). Scrubbing a spare keeps its prepared site when that is already current (cms's
`template_migrated` receiver checks it in seven reads): some 16 queries a spare instead of
some 460 to build the site again. A spare that does not end up with exactly the template's
migrations is dropped.
"""

import logging
import secrets
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from tenants.db import connection
from tenants.models import SpareSchema, TemplateSnapshot, Tenant
from tenants.signals import template_refreshed

from . import template

log = logging.getLogger(__name__)

SPARE_PREFIX = "dgbox_spare_"
# Fingerprint of a spare being migrated (`upgrade_stale`): no launch claims it, and
# drop_stale() drops it if the upgrade did not finish.
UPGRADING = "upgrading"


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


def upgrade_stale(migrate: Callable[[], object]) -> int:
    """Bring the spares of other migrations to the template's by applying `migrate` (which
    migrates the connection's current schema) to each, then scrub them as the template is.
    A spare left with other migrations than the template, or whose migration failed, is
    dropped (by drop_stale, after). Returns how many were upgraded."""
    fingerprint = template.migrations_fingerprint()
    target = template.applied_keys(template.TEMPLATE_SCHEMA)
    upgraded = 0
    connection.set_schema_to_public()
    for pk in list(SpareSchema.objects.exclude(fingerprint=fingerprint)
                   .exclude(fingerprint=UPGRADING).values_list("pk", flat=True)):
        with transaction.atomic():  # taken out of the pool: a launch of older code skips it
            spare = SpareSchema.objects.select_for_update(skip_locked=True).filter(pk=pk).first()
            if spare is None:
                continue  # being claimed by a launch
            spare.fingerprint = UPGRADING
            spare.save(update_fields=["fingerprint"])
        try:
            connection.set_schema(spare.schema_name)
            migrate()
            connection.set_schema_to_public()
            with transaction.atomic():
                template.scrub(spare.schema_name)
            same = template.applied_keys(spare.schema_name) == target
        except Exception:
            log.warning("Spare schema %s could not be migrated; building a new one",
                        spare.schema_name, exc_info=True)
            same = False
        finally:
            connection.set_schema_to_public()
        if same:
            SpareSchema.objects.filter(pk=spare.pk).update(fingerprint=fingerprint)
            upgraded += 1
    return upgraded


@receiver(template_refreshed, dispatch_uid="tenants-restock-spares")
def restock(snapshot: TemplateSnapshot, migrate: Callable[[], object] | None = None,
            **_kwargs: object) -> None:
    """A new snapshot: migrate the spares of older migrations when the refresh was given the
    means to (`migrate`, a rollout's engine), drop those left over and fill the pool."""
    if migrate is not None:
        upgrade_stale(migrate)
    drop_stale()
    fill_pool()
