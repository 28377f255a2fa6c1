"""Routes each request to its tenant's schema by host name.

Unknown hosts get the platform's 404 page; tenants that are not active get a maintenance
(suspended, provisioning) or "no longer available" (archived) page instead of their site.

Stock django-tenants spends three round trips per request before the view runs: a `SET
search_path` to public, the domain lookup, and a `SET search_path` to the tenant; and it
empties Django's ContentType cache twice, so Wagtail's `page.specific` queries content types
again on every request. Here:

* **Host map.** Each process loads every `host -> tenant` in one query and keeps the map for
  `DGBOX_TENANT_CACHE_SECONDS` seconds (default 5; 0 turns it off). Saving or deleting a
  Tenant or Domain through the ORM in *this* process drops it at once (and again when the
  transaction commits), so a suspension made from a web process, or in a test, takes effect
  on the next request. **Other processes** (other gunicorn workers, the `dgbox tenant` CLI,
  a queryset `.update()` or `bulk_create()`, which send no signal) are seen when the map
  expires: a suspended or archived tenant may keep serving, a deleted domain keep resolving
  or a new one keep answering 404, for at most that many seconds in each process. A map
  loaded inside a transaction is only trusted inside that same transaction (its rows might
  never be committed: every test is rolled back).
* **No redundant switch.** When the connection already serves the request's tenant (same
  schema, search path with public) nothing is sent to the database and nothing is cleared.
* **Content types per schema.** `connection.set_tenant()` still empties the ContentType cache
  (public and tenant schemas have different content type ids), but the cache is now one per
  schema and per thread (`SchemaContentTypeCache`): after the switch the connection gets its
  schema's own cache back, filled only while a connection was in that schema, so ids never
  cross schemas. This is the split the comment in django-tenants' `set_tenant()` asks for.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType, ContentTypeManager
from django.core.exceptions import DisallowedHost
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.db.transaction import Atomic
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from .db import connection
from .models import Domain, Tenant

if TYPE_CHECKING:
    from django.core.handlers.asgi import ASGIRequest
    from django.core.handlers.wsgi import WSGIRequest

#: A tenant's row as values_list() reads it (the concrete fields, in order), and the map.
Row = tuple[Any, ...]
Rows = dict[str, Row]


class HostMap:
    """Every host name -> its tenant's row, loaded in one query and kept for `ttl` seconds.

    One query per process every `ttl` seconds, however many tenants there are and however
    rarely each is visited: a cache per host would miss for every tenant visited less than
    once per `ttl` in a process, which on a platform of many small sites is most of them. A
    host that is not in the map is unknown (404, no query) until the next load, so unknown
    hosts are remembered for `ttl` at most, and a flood of made-up names costs nothing and
    stores nothing. Rows are kept as tuples (a few hundred bytes per domain) and each request
    gets a Tenant instance of its own, so a view that changes `request.tenant` cannot change
    what the next request gets.

    Thread-safe: the map is replaced whole, never changed in place; one thread loads while
    the others wait for it, and a load that started before a `clear()` is not kept. `ttl <= 0`
    turns the map off (one lookup per request, as stock django-tenants).
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self.loads = 0
        self._state: tuple[Rows, float, Atomic | None] | None = None  # rows, expiry, transaction
        self._generation = 0
        self._lock = threading.Lock()

    def get(self, hostname: str, load: Callable[[str | None], Rows]) -> Row | None:
        """The row of the tenant serving `hostname`, or None. `load(hostname)` returns
        {host: row} for every host (hostname=None) or for that one host."""
        if self.ttl <= 0:
            return load(hostname).get(hostname)
        rows = self._fresh()
        if rows is None:
            with self._lock:
                rows = self._fresh()
                if rows is None:
                    generation = self._generation
                    rows = load(None)
                    self.loads += 1
                    if generation == self._generation:
                        self._state = (rows, self.clock() + self.ttl, _transaction_scope())
        return rows.get(hostname)

    def _fresh(self) -> Rows | None:
        state = self._state
        if state is None:
            return None
        rows, expires, scope = state
        if expires <= self.clock() or scope is not _transaction_scope():
            return None
        return rows

    def clear(self) -> None:
        self._generation += 1
        self._state = None


def _transaction_scope() -> Atomic | None:
    """The outermost open transaction on the default connection, or None (autocommit)."""
    blocks = connection.atomic_blocks
    return blocks[0] if blocks else None


host_map = HostMap(ttl=float(getattr(settings, "DGBOX_TENANT_CACHE_SECONDS", 5)))


def forget_tenants(**_kwargs: Any) -> None:
    """Forget this process's host map now, and again when the current transaction commits
    (until then another thread could load the rows as they were before it)."""
    host_map.clear()
    if connection.in_atomic_block:
        transaction.on_commit(host_map.clear)


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
        self._by_schema: OrderedDict[tuple[str, Any, Atomic | None], dict[Any, Any]] = (
            OrderedDict())
        self._lock = threading.Lock()
        self._local = threading.local()

    def _mine(self) -> dict[str, Any]:
        """This thread's {db alias: {key: ContentType}}."""
        by_alias: dict[str, Any]
        try:
            by_alias = self._local.by_alias
        except AttributeError:
            by_alias = self._local.by_alias = {}
        return by_alias

    # The part of the dict interface ContentTypeManager uses.
    def __getitem__(self, alias: str) -> Any:
        return self._mine()[alias]

    def setdefault(self, alias: str, default: Any = None) -> Any:
        return self._mine().setdefault(alias, default)

    def clear(self) -> None:
        self._mine().clear()

    def attach(self, tenant: Tenant, alias: str = DEFAULT_DB_ALIAS) -> None:
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


def _manager_cache(manager: ContentTypeManager) -> Any:
    # The ContentType model's manager (and each copy Django makes with db_manager()/using())
    # uses the per-schema cache; managers of historical models in migrations keep their own
    # dict, as in stock Django (their instances are of another class).
    if manager.model is ContentType:
        return content_types
    return manager.__dict__.setdefault("_cache", {})


def _set_manager_cache(manager: ContentTypeManager, value: Any) -> None:
    manager.__dict__["_cache"] = value


# A data descriptor on the class wins over the `_cache` each manager sets in __init__.
ContentTypeManager._cache = property(_manager_cache, _set_manager_cache)  # type: ignore[attr-defined]


def use_tenant(tenant: Tenant) -> None:
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


_TENANT_FIELDS = [f.attname for f in Tenant._meta.concrete_fields]


def _load_hosts(hostname: str | None = None) -> Rows:
    """{host: tenant row} for every domain, or for `hostname` only."""
    connection.set_schema_to_public()  # the tenant list lives in the public schema
    domains = Domain.objects.all() if hostname is None else Domain.objects.filter(
        domain=hostname)
    rows = domains.values_list("domain", *(f"tenant__{name}" for name in _TENANT_FIELDS))
    hosts: Rows = {row[0]: row[1:] for row in rows}
    return hosts


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request: "WSGIRequest | ASGIRequest") -> HttpResponse | None:
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request, request.META.get("HTTP_HOST", ""))
        row = host_map.get(hostname, _load_hosts)
        if row is None:
            return self._not_found(request, hostname)

        tenant = Tenant.from_db(connection.alias, _TENANT_FIELDS, row)
        tenant.domain_url = hostname
        request.tenant = tenant
        if tenant.schema_name != get_public_schema_name() and not tenant.is_serving:
            return self._unavailable(request, tenant)
        use_tenant(tenant)
        self.setup_url_routing(request)
        return None

    @staticmethod
    def _not_found(request: HttpRequest, hostname: str) -> HttpResponse:
        connection.set_schema_to_public()
        return _render_in(settings.LANGUAGE_CODE, request, "tenants/unknown_host.html",
                          {"hostname": hostname}, status=404)

    @staticmethod
    def _unavailable(request: HttpRequest, tenant: Tenant) -> HttpResponse:
        connection.set_schema_to_public()
        if tenant.status == Tenant.Status.ARCHIVED:
            return _render_in(tenant.default_language, request, "tenants/archived.html",
                              {"tenant": tenant}, status=410)
        response = _render_in(tenant.default_language, request, "tenants/maintenance.html",
                              {"tenant": tenant}, status=503)
        response["Retry-After"] = "3600"
        response["Cache-Control"] = "no-store"
        return response


def _render_in(language: str, request: HttpRequest, template_name: str,
               context: dict[str, object], status: int) -> HttpResponse:
    """These pages are answered before the locale middleware runs: in the tenant's language
    (the platform's for an unknown host), not in whatever the thread served last."""
    with translation.override(language):
        response = render(request, template_name, context, status=status)
    response.headers.setdefault("Content-Language", language)
    return response
