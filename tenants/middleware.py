"""Routes each request to its tenant's schema by host name.

Unknown hosts get the platform's 404 page; tenants that are not active get a maintenance
(suspended, provisioning) or "no longer available" (archived) page instead of their site.

Stock django-tenants spends three round trips per request before the view runs: a `SET
search_path` to public, the domain lookup, and a `SET search_path` to the tenant; and it
empties Django's ContentType cache twice, so Wagtail's `page.specific` queries content types
again on every request. Here:

* **Hosts looked up one by one, cached per process** (tenants/host_cache.py): a host's first
  request costs one indexed query; then the row is kept (up to `DGBOX_TENANT_CACHE_SIZE`
  hosts per process, random eviction beyond) until a *change notice* says a tenant or domain
  changed. Every ORM save or delete of a Tenant or Domain, in any process (web, CLI, Celery),
  replaces the notice in the shared cache, so every process sees a suspension, an archive or
  a new domain on its next request. What sends no signal (a queryset `.update()`,
  `bulk_create()`) shows within `DGBOX_TENANT_CACHE_SHARED_SECONDS`; without a shared cache
  (no REDIS_URL, or Redis down) within `DGBOX_TENANT_CACHE_SECONDS` (0 turns caching off).
  Nothing grows or reloads with the size of the fleet.
* **No redundant switch.** When the connection already serves the request's tenant (same
  schema, search path with public) nothing is sent to the database and nothing is cleared.
* **Content types per schema.** `connection.set_tenant()` still empties the ContentType cache
  (public and tenant schemas have different content type ids), but the cache is now one per
  schema and per thread (`SchemaContentTypeCache`): after the switch the connection gets its
  schema's own cache back, filled only while a connection was in that schema, so ids never
  cross schemas. This is the split the comment in django-tenants' `set_tenant()` asks for.
  Up to `DGBOX_TENANT_CACHE_SIZE` schemas are kept, evicted at random beyond that, so that a
  process cycling over more tenants still finds most of them (an LRU would find none).
"""

import functools
import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType, ContentTypeManager
from django.core.exceptions import DisallowedHost
from django.db import DEFAULT_DB_ALIAS
from django.db.transaction import Atomic
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from .db import connection
from .host_cache import BoundedCache, Row, host_cache, transaction_scope
from .models import Domain, Tenant

if TYPE_CHECKING:
    from django.core.handlers.asgi import ASGIRequest
    from django.core.handlers.wsgi import WSGIRequest

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

    def __init__(self, max_schemas: int):
        self._by_schema: BoundedCache[tuple[str, Any, Atomic | None], dict[Any, Any]] = (
            BoundedCache(max_schemas))
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
        key = (tenant.schema_name, getattr(tenant, "pk", None), transaction_scope())
        cache = self._by_schema.get(key)
        if cache is None:
            cache = {}
            self._by_schema.put(key, cache)
        self._mine()[alias] = cache

    def forget(self) -> None:
        """Drop every schema's content types (e.g. after content types were deleted)."""
        self._by_schema.clear()
        self.clear()


content_types = SchemaContentTypeCache(
    max_schemas=int(getattr(settings, "DGBOX_TENANT_CACHE_SIZE", 5000)))


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


@functools.cache
def _lookup_sql() -> tuple[str, tuple[tuple[int, Any, list[Any]], ...]]:
    """The host lookup's statement, and the converters the ORM applies to its columns (a
    JSON column arrives as text and is read by the field), built once."""
    quote = connection.ops.quote_name
    tenant, domain = Tenant._meta, Domain._meta
    fields = tenant.concrete_fields
    columns = ", ".join(f"t.{quote(field.column)}" for field in fields)
    sql = (f"SELECT {columns} FROM {quote(domain.db_table)} d "  # noqa: S608 - names quoted with quote_name, values passed as parameters # nosec B608
           f"JOIN {quote(tenant.db_table)} t ON t.{quote(tenant.pk.column)} = "
           f"d.{quote(domain.get_field('tenant').column)} "
           f"WHERE d.{quote(domain.get_field('domain').column)} = %s LIMIT 1")  # unique
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(tenant.db_table)
        found = [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
        if found:
            converters.append((index, column, found))
    return sql, tuple(converters)


def _look_up_host(hostname: str) -> Row | None:
    """The row of the tenant serving `hostname` (one indexed query), or None: what
    `Domain.objects.filter(domain=hostname).values_list(tenant fields...)` returns, without
    building that query each time (about 0.7 ms of the ORM's 1.1 ms a lookup, measured at
    1,000 tenants, where a process renews a few host rows a second)."""
    connection.set_schema_to_public()  # the tenant list lives in the public schema
    sql, converters = _lookup_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, [hostname])
        found = cursor.fetchone()
    if found is None:
        return None
    row = list(found)
    for index, column, functions in converters:
        for function in functions:
            row[index] = function(row[index], column, connection)
    return tuple(row)


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request: "WSGIRequest | ASGIRequest") -> HttpResponse | None:
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request, request.META.get("HTTP_HOST", ""))
        row = host_cache.get(hostname, _look_up_host)
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
