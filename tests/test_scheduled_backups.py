"""Scheduled backups: every active tenant is backed up by the daily beat task; old backup
sets are pruned, the newest always kept. Real PostgreSQL (pg_dump) and S3."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from infra import s3
from tenants.lifecycle import scheduled_backups
from tenants.lifecycle.backup import backup_prefix, backup_tenant
from tenants.tasks import backup_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def clean_backups(session_tenants):
    slugs = [t.slug for t in session_tenants.values()]
    for slug in slugs:  # backups other tests made (console "back up now", audit) are not ours
        s3.delete_prefix(backup_prefix(slug))
    yield slugs
    for slug in slugs:
        s3.delete_prefix(backup_prefix(slug))


def test_daily_task_backs_up_every_active_tenant(clean_backups):
    report = backup_all.apply().get()
    for slug in clean_backups:
        assert "error" not in report[slug], report[slug]
        assert report[slug]["key"].startswith(f"backups/{slug}/")
        assert len(scheduled_backups.backup_sets(slug)) == 1


def test_prune_keeps_recent_sets_and_always_the_newest(clean_backups):
    slug = clean_backups[0]
    backup_tenant(slug)
    backup_tenant(slug)
    s3.upload_bytes(f"{backup_prefix(slug)}20200101T000000000000Z.delete.json", b"{}",
                    content_type="application/json")  # an audit record: never pruned
    assert len(scheduled_backups.backup_sets(slug)) == 2
    assert scheduled_backups.prune(slug, keep_days=30) == []  # both are recent
    later = datetime.now(UTC) + timedelta(days=31)
    removed = scheduled_backups.prune(slug, keep_days=30, now=later)
    sets = scheduled_backups.backup_sets(slug)
    assert len(removed) == 1 and len(sets) == 1 and removed[0] not in sets
    assert max([*removed, *sets]) in sets  # the newest one stayed, with its files
    keys = [item.key for item in s3.iter_objects(backup_prefix(slug))]
    assert any(key.endswith(".delete.json") for key in keys)
    assert not any(removed[0] in key for key in keys)


def test_a_second_delivery_skips_while_a_run_holds_the_lock(clean_backups, settings):
    """A Redis broker hands a backup that outlives its visibility timeout to a second worker:
    that delivery finds the first run's advisory lock (here held by another connection) and
    backs nothing up; once the lock is free, the next run does its work."""
    from tenants.lifecycle.tasks import _LOCK_KEY

    db = settings.DATABASES["default"]
    other = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"],
                            dbname=db.get("TEST", {}).get("NAME") or db["NAME"],
                            autocommit=True)
    try:
        assert other.execute("SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY]).fetchone()[0]
        before = {slug: scheduled_backups.backup_sets(slug) for slug in clean_backups}
        assert backup_all.apply().get() == {}
        assert {slug: scheduled_backups.backup_sets(slug) for slug in clean_backups} == before
    finally:
        # Unlocked before closing: a closed connection's backend releases its locks only
        # once it has exited, which a loaded server may not have done by the next line.
        other.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_KEY])
        other.close()
    report = backup_all.apply().get()
    assert set(clean_backups) <= set(report)
