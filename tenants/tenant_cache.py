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
deleted row of a watched model (`watch()`; a domain: its tenant's) replaces, at once and
again when its transaction commits (`changed()`); an entry of an older generation is a
miss. A new generation the cache did not take (Redis unreachable) is written again by the
same process at its next requests (`_write_unwritten`), so the change is seen once Redis
answers. Keys carry the release (`release()`, a digest of the code and templates): a new
release never reads the previous one's pickles or HTML. What is left (raw SQL, a queryset's
update(), a change whose process ended before Redis came back) is found at the tenant's
*renewal*, every `SECONDS` (DGBOX_CONTENT_CACHE_SECONDS, an hour), or at once by `dgbox
tenant refresh`. Each entry carries the moment of that renewal, which the copies held in
processes keep too (a copy read late does not live longer), at a phase of the tenant's own
drawn from its schema name (`ends_for`), so that tenants renew at different moments spread
over the period, where entries computed together (after a deploy, a flush of Redis, a
benchmark's warm-up) would otherwise all come due at the same moment.

At its renewal an entry is *revalidated*, not computed again: it also carries the tenant's
content version (tenants/content_changes.py: PostgreSQL counts the transactions that wrote
to the tables in `content_tables()`, by trigger), read before it was computed; if the version
is unchanged, no change committed since, and the entry is kept for another period. That is
one query on the public schema (memoised for the request) instead of the tenant's catalog
load and rendering, some 50 ms a tenant. An entry older than `LONGEST` (a day) is computed
again whatever the version says: the bound for a change to a table without the trigger.
Entries also carry the tenant's id, so a schema name taken again by another tenant never
reads the first one's. None is never kept (an address with no service is looked up every
time), and a Redis that is down is a miss (the "default" cache ignores its errors): the
database answers.

Within a web request the generation is read from the cache once (the first `remember()` of
each schema), and entries are also held in the process (`HELD` of them, pickled, each until
its entry ends), so a submit that reads five entries makes one cache round trip instead
of five. What another process changes during a request is seen from the next request on
(as if the request had read everything at its start); what this process changes (`changed()`)
is seen at once, in the same request too. Outside requests (Celery, the CLI) every call reads
the generation again.
"""

import functools
import hashlib
import pickle
import threading
import time
import uuid
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name, schema_context
from modelcluster.fields import ParentalKey

from . import content_changes
from .db import connection
from .host_cache import BoundedCache, renewal
from .models import Domain, Tenant

#: The longest an entry is trusted (seconds): the bound on staleness when a change did not
#: go through the ORM's signals or its new generation did not reach the cache.
SECONDS: int = settings.DGBOX_CONTENT_CACHE_SECONDS
#: The longest an entry is kept by revalidation (seconds): then it is computed again even if
#: the tenant's content version did not change (a table without the trigger changed).
LONGEST: int = max(SECONDS, 86_400)
#: Tables of watched models that are not content: Wagtail's comments on drafts.
NOT_CONTENT = frozenset({"wagtailcore_comment"})
#: The keys still say "services" (where this module began): processes of the previous release,
#: during a rollout, read and renew the same generation.
GENERATION = "services:generation"
#: Models whose saved or deleted rows make every entry of their tenant stale (`watch`).
_watched: list[type] = []
#: Part of every key; only `forget_all()` (the tests' rolled-back databases) changes it.
_epoch = [0]
#: Entries held in the process (pickled, each until the end its entry carries), evicted at
#: random beyond this: a few per tenant
#: (the service at each address, the workflow version, templates, domain, webhooks, the
#: site's chrome in each language: five entries, about 2.8 KB). 20,000 hold every entry of
#: a process serving 1,000 tenants or more (a few MB); beyond, entries come from Redis.
HELD = 20_000
_held: BoundedCache[tuple[str, str, Any], tuple[str, float, bytes]] = BoundedCache(HELD)
#: Schemas whose new generation the cache did not take (`_write_generation`), and when this
#: process last tried them again.
_unwritten: set[str] = set()
_retried_at = [0.0]
RETRY_SECONDS = 5
#: The generations read by this thread's current request, by schema (None between requests).
_request = threading.local()


@receiver(request_started, dispatch_uid="tenants.tenant_cache.request_started")
def _request_started(**kwargs: Any) -> None:
    _request.generations = {}
    _request.versions = {}
    _write_unwritten()


@receiver(request_finished, dispatch_uid="tenants.tenant_cache.request_finished")
def _request_finished(**kwargs: Any) -> None:
    _request.generations = None
    _request.versions = None


def _hold(entry_key: str, schema: str, tenant_id: Any, generation: str, value: Any,
          ends: float) -> None:
    _held.put((entry_key, schema, tenant_id), (generation, ends, pickle.dumps(value)))


def ends_for(schema: str, now: float) -> float:
    """When an entry of `schema` computed at `now` (epoch seconds) ends: the tenant's next
    renewal, a moment in each period of `SECONDS` at the schema's own phase."""
    return renewal(schema, now, SECONDS)


def watch(*models: type) -> None:
    """Make every save or delete of a row of `models` (in a tenant's schema) a change."""
    _watched.extend(model for model in models if model not in _watched)


def content_tables() -> set[str]:
    """The tables whose rows the entries are made of, which need the trigger that counts
    content changes (tenants/content_changes.py): those of the watched models and their
    subclasses (every page type), and the inline rows a page or a service keeps with it
    (a ParentalKey to one of them)."""
    models = [model for model in apps.get_models()
              if issubclass(model, tuple(_watched)) and not model._meta.proxy]
    children = [model for model in apps.get_models() if not model._meta.proxy and any(
        isinstance(field, ParentalKey) and field.related_model in models
        for field in model._meta.fields)]
    return {model._meta.db_table for model in models + children} - NOT_CONTENT


def _version(schema: str) -> int:
    """The tenant's content version, read once per request (and at every call outside one)."""
    versions = getattr(_request, "versions", None)
    if versions is None:
        return content_changes.version(schema)
    if schema not in versions:
        versions[schema] = content_changes.version(schema)
    return int(versions[schema])


def key(name: str) -> str:
    return f"services:{_epoch[0]}:{release()}:{name}"


#: What `release()` reads: the project's code, templates and translations, and the versions
#: of the libraries that render with them.
RELEASE_SOURCES = ("cms", "services", "tenants", "dgbox")
RELEASE_FILES = (".py", ".html", ".mo")
RELEASE_LIBRARIES = ("django", "wagtail")


@functools.cache
def release() -> str:
    """A digest of the code this process runs, part of every entry's key: processes of two
    releases side by side (a rolling deploy) never read each other's entries, which hold
    pickled models and rendered HTML, and a new release starts from fresh entries; the
    tenant's generation stays shared, so a change made in either is seen by both. Read once
    per process, on the first use of the cache (about 20 ms: some 450 files, 3 MB)."""
    digest = hashlib.blake2b(digest_size=8)
    for library in RELEASE_LIBRARIES:
        digest.update(f"{library}=={version(library)}\n".encode())
    root = settings.BASE_DIR
    for path in sorted(path for source in RELEASE_SOURCES for path in (root / source).rglob("*")
                       if path.suffix in RELEASE_FILES and path.is_file()):
        digest.update(f"{path.relative_to(root)}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


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
        if held is not None and held[0] == generation and held[1] > time.time():
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
    # (generation, tenant id, value, when it ends, content version, when it was computed):
    # times are wall-clock, the same in every process; an entry of another shape (a previous
    # release's) is a miss.
    now = time.time()
    if (entry is not None and generation is not None and len(entry) == 6
            and entry[:2] == (generation, tenant_id)):
        if entry[3] > now:
            if generations is not None:
                _hold(entry_key, schema, tenant_id, generation, entry[2], entry[3])
            return entry[2]
        if now - entry[5] < LONGEST and entry[4] == _version(schema):
            # Renewed as it is: no change to the tenant's content committed since the version
            # was read, before the entry was computed.
            _store(entry_key, schema, tenant_id, generation, entry[2], entry[4], entry[5], now)
            return entry[2]
    # The generation and the version are read before the database: a change committed after
    # these reads replaces the one and raises the other, so what is stored below is already
    # stale and never served, nor renewed.
    content_version = _version(schema) if generation is not None else 0
    value = compute()
    if value is not None and generation is not None:
        now = time.time()
        _store(entry_key, schema, tenant_id, generation, value, content_version, now, now)
    return value


def _store(entry_key: str, schema: str, tenant_id: Any, generation: str, value: Any,
           content_version: int, made: float, now: float) -> None:
    """Keep `value` until the tenant's next renewal, in the cache for one period more (so
    that it can be revalidated then) but never beyond `LONGEST` after it was `made`."""
    ends = ends_for(schema, now)
    timeout = min(ends + SECONDS, made + LONGEST) - now
    cache.set(entry_key, (generation, tenant_id, value, ends, content_version, made),
              max(1, round(timeout)))
    if getattr(_request, "generations", None) is not None:
        _hold(entry_key, schema, tenant_id, generation, value, ends)


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
        _write_generation(schema_name)

    if connection.in_atomic_block:
        renew()
    transaction.on_commit(renew)  # right away outside a transaction


def _write_generation(schema_name: str) -> None:
    """A new generation for `schema_name`, read back: one the cache did not take (Redis
    unreachable) is written again by this process's next requests (`_write_unwritten`);
    otherwise, once Redis is back, its entries from before the change would be served until
    the tenant's renewal."""
    token = uuid.uuid4().hex

    def write() -> bool:
        cache.set(GENERATION, token, timeout=None)
        return bool(cache.get(GENERATION) == token)

    if connection.schema_name == schema_name:
        written = write()
    else:
        with schema_context(schema_name):  # the key carries the schema (make_key)
            written = write()
    if written:
        _unwritten.discard(schema_name)
    else:
        _unwritten.add(schema_name)


def _write_unwritten() -> None:
    """At the start of a request: the generations the cache did not take, again (at most
    once every `RETRY_SECONDS`, since each try waits for Redis's timeout while it is down)."""
    if not _unwritten or time.monotonic() - _retried_at[0] < RETRY_SECONDS:
        return
    _retried_at[0] = time.monotonic()
    for schema_name in list(_unwritten):
        _write_generation(schema_name)


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
    _unwritten.clear()
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
