"""Routes each request to its tenant's schema by host name.

Unknown hosts get the platform's 404 page; tenants that are not active get a maintenance
(suspended, provisioning) or "no longer available" (archived) page instead of their site.

Stock django-tenants spends three round trips per request before the view runs: a `SET
search_path` to public, the domain lookup, and a `SET search_path` to the tenant; and it
empties Django's ContentType cache twice, so Wagtail's `page.specific` queries content types
again on every request. Here:

* **Host cache.** Each process remembers `host -> tenant` (or "no such host") for
  `DGBOX_TENANT_CACHE_SECONDS` seconds (default 5; 0 turns the cache off). Saving or deleting
  a Tenant or Domain through the ORM in *this* process empties it at once (and again when
  the transaction commits), so `dgbox tenant suspend` run from a web process, or a test,
  takes effect on the next request. **Other processes** (other gunicorn workers, a CLI
  command, a queryset `.update()` that sends no signal) see the change when their entry
  expires: a suspended or archived tenant may keep serving, or a new domain keep answering
  404, for at most that many seconds per process. Entries read inside a transaction are
  only trusted inside that same transaction (the rows might never be committed: every test
  is rolled back).
* **No redundant switch.** When the connection already serves the request's tenant (same
  schema, search path with public) nothing is sent to the database and nothing is cleared.
* **Content types per schema.** `connection.set_tenant()` still empties the ContentType cache
  (public and tenant schemas have different content type ids), but the cache is now one per
  schema and per thread (`SchemaContentTypeCache`): after the switch the connection gets its
  schema's own cache back, filled only while a connection was in that schema, so ids never
  cross schemas. This is the split the comment in django-tenants' `set_tenant()` asks for.
"""

import copy
import threading
import time
from collections import OrderedDict

from django.conf import settings
from django.contrib.contenttypes.models import ContentTypeManager
from django.core.exceptions import DisallowedHost
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from .models import Domain, Tenant

_MISSING = object()


class HostCache:
    """host name -> Tenant (or None: no such host), each entry valid for `ttl` seconds.

    Thread-safe; bounded (least recently used entries go first), so a flood of made-up host
    names cannot grow it without limit. Tenants are handed out as copies: a request that
    changes `request.tenant` cannot change what the next request gets.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Tenant | None, float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, hostname: str):
        """The cached tenant (a copy), None for a known-unknown host, or _MISSING."""
        if self.ttl <= 0:
            return _MISSING
        with self._lock:
            entry = self._entries.get(hostname)
            if entry is None:
                return _MISSING
            tenant, expires, scope = entry
            if expires <= time.monotonic() or scope is not _transaction_scope():
                del self._entries[hostname]
                return _MISSING
            self._entries.move_to_end(hostname)
        return _copy(tenant) if tenant is not None else None

    def put(self, hostname: str, tenant: Tenant | None) -> None:
        if self.ttl <= 0:
            return
        entry = (_copy(tenant) if tenant is not None else None, time.monotonic() + self.ttl,
                 _transaction_scope())
        with self._lock:
            self._entries[hostname] = entry
            self._entries.move_to_end(hostname)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self):
        return len(self._entries)


def _copy(tenant: Tenant) -> Tenant:
    return copy.copy(tenant)  # Model.__reduce__ copies field values and _state; no query


def _transaction_scope():
    """The outermost open transaction on the default connection, or None (autocommit)."""
    blocks = connection.atomic_blocks
    return blocks[0] if blocks else None


host_cache = HostCache(ttl=float(getattr(settings, "DGBOX_TENANT_CACHE_SECONDS", 5)))


def forget_tenants(**_kwargs) -> None:
    """Empty this process's host cache now and again when the current transaction commits
    (until then another thread could re-read the old committed row)."""
    host_cache.clear()
    if connection.in_atomic_block:
        transaction.on_commit(host_cache.clear)


for _model in (Tenant, Domain):
    post_save.connect(forget_tenants, sender=_model, dispatch_uid=f"forget-tenants-save-{_model}")
    post_delete.connect(forget_tenants, sender=_model,
                        dispatch_uid=f"forget-tenants-delete-{_model}")


class SchemaContentTypeCache:
    """Stands in for `ContentTypeManager._cache` ({db alias: {key: ContentType}}) so that each
    schema keeps its own content types instead of losing them on every switch.

    Why it is safe (tests/test_routing_cache.py checks each point):

    1. The manager only reaches a cache through `self._cache[alias]` / `setdefault(alias)`,
       which here return the *calling thread's* entry for that alias. Django's connections
       are per thread too, so a thread's entry always describes its own connection.
    2. A schema's dict becomes a thread's entry only through `attach()`, called right after
       `connection.set_tenant(tenant)` (or when the connection is already in that schema).
    3. Every switch of schema goes through `set_tenant()` (set_schema_to_public,
       schema_context, tenant_context included), which calls
       `ContentType.objects.clear_cache()`, i.e. `clear()` here: the calling thread's entries
       are dropped, so nothing can read or fill a schema's dict once its connection has left
       that schema. Other threads keep theirs (stock Django shares one cache between threads,
       which lets one thread's switch serve another thread content types of the wrong schema).
    4. Dicts are keyed by (schema, tenant row id, outermost transaction): a schema dropped and
       launched again gets a new row id, and content types read inside a transaction (which
       may roll back, as every test does) are not reused outside it.

    A thread that is not attached (management commands, Celery tasks, code after
    schema_context) uses a dict of its own that every switch empties: stock behaviour.
    """

    def __init__(self, max_schemas: int = 256):
        self.max_schemas = max_schemas
        self._by_schema: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()

    def _mine(self) -> dict:
        try:
            return self._local.by_alias
        except AttributeError:
            self._local.by_alias = {}
            return self._local.by_alias

    # The part of the dict interface ContentTypeManager uses.
    def __getitem__(self, alias):
        return self._mine()[alias]

    def setdefault(self, alias, default=None):
        return self._mine().setdefault(alias, default)

    def clear(self) -> None:
        self._mine().clear()

    def attach(self, tenant, alias: str = DEFAULT_DB_ALIAS) -> None:
        """Make `tenant`'s schema's dict this thread's cache for `alias`; call only while that
        connection is in the tenant's schema."""
        key = (tenant.schema_name, getattr(tenant, "pk", None), _transaction_scope())
        with self._lock:
            cache = self._by_schema.get(key)
            if cache is None:
                cache = self._by_schema[key] = {}
                while len(self._by_schema) > self.max_schemas:
                    self._by_schema.popitem(last=False)
            else:
                self._by_schema.move_to_end(key)
        self._mine()[alias] = cache

    def forget(self) -> None:
        """Drop every schema's content types (e.g. after content types were deleted)."""
        with self._lock:
            self._by_schema.clear()
        self.clear()


content_types = SchemaContentTypeCache()
# A data descriptor on the class wins over the `_cache` every manager instance (and each copy
# Django makes with db_manager()/using()) sets in __init__: all of them use the one above.
ContentTypeManager._cache = property(lambda _manager: content_types,
                                     lambda _manager, _value: None)


def use_tenant(tenant) -> None:
    """Point the connection at `tenant`'s schema (search path: tenant, public) unless it is
    already there."""
    if (connection.schema_name == tenant.schema_name and connection.include_public_schema
            and not getattr(settings, "EXTRA_SET_TENANT_METHOD_PATH", None)):
        # Same schema: the search path already sent stays valid (django-tenants re-sends it
        # after a rollback by itself), and so do the schema's content types.
        connection.tenant = tenant
        content_types.attach(tenant, connection.alias)
        return
    connection.set_tenant(tenant)
    content_types.attach(tenant, connection.alias)


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request, request.META.get("HTTP_HOST", ""))
        tenant = host_cache.get(hostname)
        if tenant is _MISSING:
            tenant = self._lookup(hostname)
            host_cache.put(hostname, tenant)
        if tenant is None:
            return self._not_found(request, hostname)

        tenant.domain_url = hostname
        request.tenant = tenant
        if tenant.schema_name != get_public_schema_name() and not tenant.is_serving:
            return self._unavailable(request, tenant)
        use_tenant(tenant)
        self.setup_url_routing(request)
        return None

    def _lookup(self, hostname) -> Tenant | None:
        # The tenant list lives in the public schema.
        connection.set_schema_to_public()
        try:
            return self.get_tenant(Domain, hostname)
        except Domain.DoesNotExist:
            return None

    @staticmethod
    def _not_found(request, hostname):
        connection.set_schema_to_public()
        return render(request, "tenants/unknown_host.html", {"hostname": hostname}, status=404)

    @staticmethod
    def _unavailable(request, tenant):
        connection.set_schema_to_public()
        if tenant.status == Tenant.Status.ARCHIVED:
            return render(request, "tenants/archived.html", {"tenant": tenant}, status=410)
        response = render(request, "tenants/maintenance.html", {"tenant": tenant}, status=503)
        response["Retry-After"] = "3600"
        response["Cache-Control"] = "no-store"
        return response
