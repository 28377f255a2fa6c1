"""The published service at its address, kept in the tenant's cache between publishes.

Every step of an application (form, check your answers, submit, confirmation) starts by
finding the published service at /<lang>/apply/<slug>/: a join of the service with its
Wagtail page, a language-preferring ORDER BY and the page model built, about a fifth of the
CPU of a submit. `service_at(slug, language)` keeps what that lookup found in the "default"
cache, whose keys carry the tenant's schema (django_tenants.cache.make_key), until the next
change to a page or a service of the tenant.

Freshness: each entry remembers the tenant's *generation*, a random token that every saved
or deleted page, online service or form version replaces once its transaction commits
(`changed()`, at once and again at commit); an entry of an older generation is a miss. Publishing, unpublishing, renaming,
moving, deleting a page and closing a form therefore take effect on the next request, in
every process. A change made around the ORM (raw SQL, a restored backup) or a generation
lost with Redis is bounded by `SECONDS`, the longest an entry lives. Entries also carry the
tenant's id, so a schema name taken again by another tenant never reads the first one's.
Only services found are kept (an address with no service is looked up every time), and a
Redis that is down is a miss (the "default" cache ignores its errors): the database answers.
"""

import hashlib
import uuid

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name, schema_context
from wagtail.models import Page

from .models import FormVersion, OnlineService

#: The longest an entry is trusted (seconds): the bound on staleness when a change did not
#: go through the ORM's signals or its new generation did not reach the cache.
SECONDS = 60
GENERATION = "services:published:generation"


#: Part of every key; only `forget_all()` (the tests' rolled-back databases) changes it.
_epoch = [0]


def _key(slug: str, language: str | None) -> str:
    # Any slug Wagtail allows (Cyrillic, long), or whatever a visitor typed: hashed into a
    # short ASCII key that every cache backend takes.
    digest = hashlib.blake2b(f"{language}\x00{slug}".encode(), digest_size=16).hexdigest()
    return f"services:published:{_epoch[0]}:{digest}"


def forget_all() -> None:
    """Make every entry this process kept unreachable, in every tenant: for tests, whose
    database is rolled back between them without a signal (tests/conftest.py)."""
    _epoch[0] += 1


def _tenant_id():
    return getattr(connection.tenant, "pk", None)


def service_at(slug: str, language: str | None = None):
    """The published service whose page has `slug` now, in `language`'s catalogue first
    (OnlineService.objects.at_slug, with its page), from the cache when nothing changed
    since it was read; None if there is none. Each call returns an instance of its own."""
    tenant_id = _tenant_id()
    if tenant_id is None:  # no real tenant (a schema_context): no key to trust
        return OnlineService.objects.at_slug(slug, language)
    key = _key(slug, language)
    found = cache.get_many([GENERATION, key])
    generation, entry = found.get(GENERATION), found.get(key)
    if entry is not None and generation is not None and entry[:2] == (generation, tenant_id):
        return entry[2]
    if generation is None:
        # First use, or evicted: a new generation, which no entry has. add(): another process
        # may have set one just now, and then its token is the one to use.
        cache.add(GENERATION, uuid.uuid4().hex, timeout=None)
        generation = cache.get(GENERATION)
    # The generation is read before the database: a change committed after this read
    # replaces it, so what is stored below is already stale and never served.
    service = OnlineService.objects.at_slug(slug, language)
    if service is not None and generation is not None:
        cache.set(key, (generation, tenant_id, service), SECONDS)
    return service


def changed(schema_name: str | None = None) -> None:
    """Forget the published services of the tenant of `schema_name` (the current schema by
    default): now, and again once the current transaction commits. Now, so that a change
    rolled back (a test's, a failed publish) leaves nothing read in between trusted; at
    commit, because another request may have read the database as it was before the commit
    and kept that under the generation set now."""
    schema_name = schema_name or connection.schema_name
    if not schema_name or schema_name == get_public_schema_name():
        return

    def renew():
        if connection.schema_name == schema_name:
            cache.set(GENERATION, uuid.uuid4().hex, timeout=None)
            return
        with schema_context(schema_name):  # the key carries the schema (make_key)
            cache.set(GENERATION, uuid.uuid4().hex, timeout=None)

    if connection.in_atomic_block:
        renew()
    transaction.on_commit(renew)  # right away outside a transaction


@receiver(post_save, dispatch_uid="services.published.saved")
@receiver(post_delete, dispatch_uid="services.published.deleted")
def _model_changed(sender, instance, **kwargs):
    # Any page (its slug, live flag and locale decide the address; a service page's fields
    # are shown with the form), the online service and its form versions. Other models'
    # saves cost one isinstance check.
    if isinstance(instance, Page | OnlineService | FormVersion):
        changed()
