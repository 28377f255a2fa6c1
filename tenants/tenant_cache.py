"""What every request of a tenant reads and only editors change, kept in the tenant's cache.

Each step of an application reads the published service at its address, and each submission
also the current version of its workflow, the tenant's own receipt templates and its primary
domain (for the tracking link); every page of the tenant's site reads its Wagtail site, its
branding, its locale, alert banners and footer links (cms/chrome.py): rows that change when
someone edits a page, a form, a workflow, a template, the site's chrome or a domain, not when
citizens apply or read. `remember(name, compute)` keeps what `compute()` returned in the
"default" cache, whose keys carry the tenant's schema (django_tenants.cache.make_key), until
the next such change. The apps that use it (cms, services) register what they read with
`watch()`; this module knows none of their models.

Freshness: each entry remembers the tenant's *generation*, a random token that every saved or
deleted row of a watched model (`watch()`; a domain: its tenant's) replaces, at
once and again when its transaction commits (`changed()`); an entry of an older generation
is a miss. A change made around the ORM (raw SQL, a queryset's update(), a restored backup)
or a generation lost with Redis is bounded by `SECONDS`, the longest an entry lives. Entries
also carry the tenant's id, so a schema name taken again by another tenant never reads the
first one's. None is never kept (an address with no service is looked up every time), and a
Redis that is down is a miss (the "default" cache ignores its errors): the database answers.

Within a web request the generation is read from the cache once (the first `remember()` of
each schema), and entries are also held in the process (`HELD` of them, pickled, each for
`SECONDS` at most), so a submit that reads five entries makes one cache round trip instead
of five. What another process changes during a request is seen from the next request on
(as if the request had read everything at its start); what this process changes (`changed()`)
is seen at once, in the same request too. Outside requests (Celery, the CLI) every call reads
the generation again.
"""

import pickle
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name, schema_context

from .db import connection
from .host_cache import BoundedCache
from .models import Domain, Tenant

#: The longest an entry is trusted (seconds): the bound on staleness when a change did not
#: go through the ORM's signals or its new generation did not reach the cache.
SECONDS = 300
#: The keys still say "services" (where this module began): processes of the previous release,
#: during a rollout, read and renew the same generation.
GENERATION = "services:generation"
#: Models whose saved or deleted rows make every entry of their tenant stale (`watch`).
_watched: list[type] = []
#: Part of every key; only `forget_all()` (the tests' rolled-back databases) changes it.
_epoch = [0]
#: Entries held in the process (pickled), evicted at random beyond this: a few per tenant
#: (the service at each address, the workflow version, templates, domain, webhooks, the
#: site's chrome in each language: five entries, about 2.8 KB). 20,000 hold every entry of
#: a process serving 1,000 tenants or more (a few MB); beyond, entries come from Redis.
HELD = 20_000
_held: BoundedCache[tuple[str, str, Any], tuple[str, float, bytes]] = BoundedCache(HELD)
#: The generations read by this thread's current request, by schema (None between requests).
_request = threading.local()


@receiver(request_started, dispatch_uid="tenants.tenant_cache.request_started")
def _request_started(**kwargs: Any) -> None:
    _request.generations = {}


@receiver(request_finished, dispatch_uid="tenants.tenant_cache.request_finished")
def _request_finished(**kwargs: Any) -> None:
    _request.generations = None


def _hold(entry_key: str, schema: str, tenant_id: Any, generation: str, value: Any) -> None:
    _held.put((entry_key, schema, tenant_id),
              (generation, time.monotonic() + SECONDS, pickle.dumps(value)))


def watch(*models: type) -> None:
    """Make every save or delete of a row of `models` (in a tenant's schema) a change."""
    _watched.extend(model for model in models if model not in _watched)


def key(name: str) -> str:
    return f"services:{_epoch[0]}:{name}"


def remember(name: str, compute: Callable[[], Any]) -> Any:
    """`compute()`, from the cache when no watched row of the tenant changed since it was
    computed; each call returns an object of its own (unpickled). Outside a real tenant (a
    schema_context's stand-in has no id) it is computed every time."""
    tenant_id = getattr(connection.tenant, "pk", None)
    if tenant_id is None:
        return compute()
    entry_key = key(name)
    schema = connection.schema_name
    generations = getattr(_request, "generations", None)  # a dict during a request
    generation = generations.get(schema) if generations is not None else None
    if generation is not None:
        held = _held.get((entry_key, schema, tenant_id))
        if held is not None and held[0] == generation and held[1] > time.monotonic():
            return pickle.loads(held[2])  # noqa: S301 - pickled by this process (_hold) # nosec B301
        entry = cache.get(entry_key)
    else:
        found = cache.get_many([GENERATION, entry_key])
        generation, entry = found.get(GENERATION), found.get(entry_key)
        if generation is None:
            # First use, or evicted: a new generation, which no entry has. add(): another
            # process may have set one just now, and then its token is the one to use.
            cache.add(GENERATION, uuid.uuid4().hex, timeout=None)
            generation = cache.get(GENERATION)
        if generations is not None and generation is not None:
            generations[schema] = generation
    if entry is not None and generation is not None and entry[:2] == (generation, tenant_id):
        if generations is not None:
            _hold(entry_key, schema, tenant_id, generation, entry[2])
        return entry[2]
    # The generation is read before the database: a change committed after this read
    # replaces it, so what is stored below is already stale and never served.
    value = compute()
    if value is not None and generation is not None:
        cache.set(entry_key, (generation, tenant_id, value), SECONDS)
        if generations is not None:
            _hold(entry_key, schema, tenant_id, generation, value)
    return value


def changed(schema_name: str | None = None) -> None:
    """Make every entry of the tenant of `schema_name` (the current schema by default)
    stale: now, and again once the current transaction commits. Now, so that a change rolled
    back (a test's, a failed publish) leaves nothing read in between trusted; at commit,
    because another request may have read the database as it was before the commit and kept
    that under the generation set now."""
    schema_name = schema_name or connection.schema_name
    if not schema_name or schema_name == get_public_schema_name():
        return

    def renew() -> None:
        _forget_generation(schema_name)
        if connection.schema_name == schema_name:
            cache.set(GENERATION, uuid.uuid4().hex, timeout=None)
            return
        with schema_context(schema_name):  # the key carries the schema (make_key)
            cache.set(GENERATION, uuid.uuid4().hex, timeout=None)

    if connection.in_atomic_block:
        renew()
    transaction.on_commit(renew)  # right away outside a transaction


def _forget_generation(schema_name: str) -> None:
    """This request reads `schema_name`'s generation from the cache again (it changed)."""
    generations = getattr(_request, "generations", None)
    if generations:
        generations.pop(schema_name, None)


def forget_all() -> None:
    """Make every entry this process kept unreachable, in every tenant: for tests, whose
    database is rolled back between them without a signal (tests/conftest.py)."""
    _epoch[0] += 1
    _held.clear()
    _forget_all_generations()


def _forget_all_generations() -> None:
    if getattr(_request, "generations", None):
        _request.generations = {}


@receiver(post_save, sender=Domain, dispatch_uid="tenants.tenant_cache.domain_saved")
@receiver(post_delete, sender=Domain, dispatch_uid="tenants.tenant_cache.domain_deleted")
def _domain_changed(sender: type, instance: Domain, **kwargs: Any) -> None:
    # Saved in the public schema: the entries to forget are its tenant's (no query when the
    # domain came with its tenant, as at a launch).
    if Domain._meta.get_field("tenant").is_cached(instance):
        schema_name = instance.tenant.schema_name
    else:
        schema_name = (Tenant.objects.filter(pk=instance.tenant_id)
                       .values_list("schema_name", flat=True).first())
    if schema_name:
        changed(schema_name)


@receiver(post_save, dispatch_uid="tenants.tenant_cache.saved")
@receiver(post_delete, dispatch_uid="tenants.tenant_cache.deleted")
def _model_changed(sender: type, instance: object, **kwargs: Any) -> None:
    # Other models' saves cost one isinstance check.
    if _watched and isinstance(instance, tuple(_watched)):
        changed()
