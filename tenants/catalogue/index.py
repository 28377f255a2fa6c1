"""Writes to the national catalogue (tenants.models.CatalogueEntry).

cms calls `publish_entry` / `withdraw_entry` after the transaction that published, unpublished,
moved or deleted a service page commits; the lifecycle calls `set_listed` when a tenant is
suspended, resumed or archived, and `remove_tenant` when it is deleted. `rebuild` makes a
tenant's entries equal to what its schema holds now, through the sources cms registers
(tenants never imports cms: the arrow points from cms to here).

Every write is one statement or one transaction, and repeating it changes nothing, so a
publish that races a rebuild, or a rebuild run twice, leaves the same rows.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django_tenants.utils import tenant_context

from tenants.models import CatalogueEntry, Tenant

#: Text beyond this is not searched (a page's "other text" is documents and conditions).
KEYWORDS_MAX = 4000
SUMMARY_MAX = 1000


@dataclass(frozen=True)
class Entry:
    """One published service page as the catalogue lists it (made by cms)."""

    page_id: int
    language: str
    title: str
    url: str
    updated_at: datetime | None
    summary: str = ""
    keywords: str = ""
    life_events: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    online: bool = False


#: Callables returning every entry of the current tenant's schema (registered by cms).
Source = Callable[[], Iterable[Entry]]
_sources: list[Source] = []


def register_source(source: Source) -> None:
    """Register what `rebuild` reads a tenant's published services with (cms, in ready())."""
    if source not in _sources:
        _sources.append(source)


def region_of(tenant: Tenant) -> int:
    """The region an entry is found under: the tenant itself, or a municipality's parent."""
    if tenant.kind == Tenant.Kind.MUNICIPALITY and tenant.parent_id:
        return int(tenant.parent_id)
    return int(tenant.pk)


def _current(tenant: Tenant) -> Tenant:
    """The tenant's row as it is now: the caller's copy may predate a suspension or a move
    (a request's tenant is looked up when the request starts)."""
    return Tenant.objects.only("pk", "slug", "kind", "parent_id", "status").get(pk=tenant.pk)


def _row(tenant: Tenant, entry: Entry) -> CatalogueEntry:
    return CatalogueEntry(
        tenant=tenant, region_id=region_of(tenant), page_id=entry.page_id,
        language=entry.language[:8], title=entry.title[:255],
        summary=entry.summary[:SUMMARY_MAX], keywords=entry.keywords[:KEYWORDS_MAX],
        url=entry.url[:500], life_events=sorted(set(entry.life_events)),
        categories=sorted(set(entry.categories)), online=entry.online,
        visible=tenant.status == Tenant.Status.ACTIVE, updated_at=entry.updated_at)


_UPDATED = ["region", "language", "title", "summary", "keywords", "url", "life_events",
            "categories", "online", "visible", "updated_at"]


def _upsert(rows: list[CatalogueEntry]) -> None:
    # INSERT ... ON CONFLICT (tenant, page) DO UPDATE: atomic, so two publishes of one page
    # at once (or a publish during a rebuild) never fail on the unique constraint.
    CatalogueEntry.objects.bulk_create(rows, update_conflicts=True,
                                       unique_fields=["tenant", "page_id"],
                                       update_fields=_UPDATED)


def publish_entry(tenant: Tenant, entry: Entry) -> None:
    """Add or update one page's entry (listed only while the tenant is active)."""
    _upsert([_row(_current(tenant), entry)])


def withdraw_entry(tenant: Tenant, page_id: int) -> None:
    """Remove one page's entry (unpublished, deleted, made private); none is fine."""
    CatalogueEntry.objects.filter(tenant=tenant, page_id=page_id).delete()


def set_listed(tenant: Tenant, listed: bool) -> int:
    """Hide (suspended, archived) or list again (resumed) every entry of a tenant; the rows
    stay, so resuming needs no rebuild. Returns the number of entries."""
    return CatalogueEntry.objects.filter(tenant=tenant).update(visible=listed)


def remove_tenant(tenant: Tenant) -> int:
    """Remove every entry of a tenant (deleted for good). Returns how many."""
    deleted, _ = CatalogueEntry.objects.filter(tenant=tenant).delete()
    return deleted


@dataclass(frozen=True)
class RebuildResult:
    slug: str
    entries: int
    added: int
    removed: int


def rebuild(tenant: Tenant) -> RebuildResult:
    """Make `tenant`'s entries exactly what its schema publishes now (idempotent)."""
    tenant = _current(tenant)
    with tenant_context(tenant):
        entries = [entry for source in _sources for entry in source()]
    rows = {entry.page_id: _row(tenant, entry) for entry in entries}
    with transaction.atomic():
        before = set(CatalogueEntry.objects.filter(tenant=tenant)
                     .values_list("page_id", flat=True))
        removed, _ = (CatalogueEntry.objects.filter(tenant=tenant)
                      .exclude(page_id__in=list(rows)).delete())
        if rows:
            _upsert(list(rows.values()))
    return RebuildResult(slug=tenant.slug, entries=len(rows),
                         added=len(set(rows) - before), removed=removed)
