"""The check a rollout runs on each tenant right after its schema migrated.

* **search path**: the connection's first schema is the tenant's own (a schema that was renamed
  or dropped under its tenant row leaves PostgreSQL resolving every name in `public`);
* **schema**: every table and column the running code's models expect exists *in that schema*
  (one catalog query compared with the models: no table is opened, so the check neither takes
  a lock on some 400 relations nor fills the connection's relation cache with them, and a
  table created in `public` by mistake does not count), and no migration is left pending;
* **home page** and **service page**: rendered through Django's full request stack (routing
  middleware included) with the tenant's own host name, as a citizen would get them. The
  service page is the first published service, else the service catalogue every tenant gets
  at launch. Pages are only checked for tenants that serve their site (a suspended tenant
  answers 503 on purpose).

A check that fails names what failed and why; the rollout records it and counts the tenant as
failed for its ring's threshold. Nothing is rolled back: the migration already committed.
"""

import sys
import time
from typing import Any, cast
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.core.signals import got_request_exception
from django.test import RequestFactory
from django_tenants.utils import tenant_context
from wagtail.models import Page

from tenants.db import connection
from tenants.host_cache import host_cache
from tenants.models import Tenant

from .plan import Graph, Key, migration_graph

# Page types (content type model names) tried for "a service page", in order of preference.
SERVICE_PAGE_MODELS = ("servicepage", "serviceindexpage")


class HealthCheckFailed(Exception):
    def __init__(self, results: dict[str, Any]):
        self.results = results
        failed = {k: v for k, v in results.items() if v != "ok"}
        super().__init__("; ".join(f"{k}: {v}" for k, v in failed.items()))


def check_schema(schema_name: str) -> dict[str, Any]:
    """Checks that need only the connection in `schema_name` (tenants and the template):
    three queries whatever the number of models (the catalog is read, the models' tables are
    not), so the check stays cheap as apps grow."""
    results: dict[str, Any] = {}
    present: set[tuple[str, str]] | None = None
    try:
        present = _read_catalog(schema_name, results)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        results["schema"] = _describe(exc)
    try:
        results["migrations"] = _check_migrations(schema_name, present)
    except Exception as exc:  # noqa: BLE001
        results["migrations"] = _describe(exc)
    return results


def _check_migrations(schema_name: str, present: set[tuple[str, str]] | None) -> str:
    """"migrations": every migration of the running code recorded in the schema's own
    `django_migrations` (read by its qualified name: through the search path a schema that
    lost the table would be read from public's). The catalog already says whether the table
    is there, so Django's recorder and its table listing (some 700 rows with public's) are
    not needed."""
    if present is not None and ("django_migrations", "app") not in present:
        return f"no django_migrations table in {schema_name}"
    graph = migration_graph()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {connection.ops.quote_name(schema_name)}"  # noqa: S608 - a quoted schema name # nosec B608
                       ".django_migrations")
        applied = {(app, name) for app, name in cursor.fetchall()}
    left = sorted(f"{a}.{n}" for a, n in graph.nodes - applied
                  if graph.app_has_tables(a, schema_name)
                  and not _squash_applied(graph, (a, n), applied))
    return "ok" if not left else "still pending: " + ", ".join(left[:5])


def _read_catalog(schema_name: str, results: dict[str, Any]) -> set[tuple[str, str]]:
    """"search path" and "schema" into `results`; returns the schema's (table, column)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        first = cursor.fetchone()[0]
        cursor.execute(_CATALOG_SQL, [schema_name])
        present = {(table, column) for table, column in cursor.fetchall()}
    results.update(_compare_tables(schema_name, first, present))
    return present


def _compare_tables(schema_name: str, first: str | None,
                    present: set[tuple[str, str]]) -> dict[str, str]:
    results = {"search path": "ok" if first == schema_name else
               f"names resolve in {first or 'no schema'}, not in {schema_name}"}
    missing_tables: dict[str, None] = {}
    missing_columns = []
    tables = {table for table, _ in present}
    for table, column in _expected_columns(schema_name):
        if table not in tables:
            missing_tables[table] = None
        elif (table, column) not in present:
            missing_columns.append(f"{table}.{column}")
    problems = []
    if missing_tables:
        problems.append("missing tables: " + ", ".join(list(missing_tables)[:5]))
    if missing_columns:
        problems.append("missing columns: " + ", ".join(missing_columns[:5]))
    results["schema"] = "; ".join(problems) or "ok"
    return results


# Tables, views and their live columns in one schema: read from the catalogs, so no table is
# opened (nor locked) to answer.
_CATALOG_SQL = """
    SELECT c.relname, a.attname FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND a.attnum > 0 AND NOT a.attisdropped
"""


def _squash_applied(graph: Graph, key: Key, applied: set[Key]) -> bool:
    replaced = graph.replacements.get(key)
    if not replaced:
        return False
    return all(r in applied for r in replaced)


_expected_cache: dict[tuple[str, bool], tuple[tuple[str, str], ...]] = {}


def _expected_columns(schema_name: str) -> tuple[tuple[str, str], ...]:
    """(table, column) of every managed model whose app has tables in `schema_name`."""
    graph = migration_graph()
    key = (graph.fingerprint, schema_name == "public")
    expected = _expected_cache.get(key)
    if expected is None:
        pairs: dict[tuple[str, str], None] = {}
        for model in apps.get_models(include_auto_created=True):
            opts = model._meta
            if (not opts.managed or opts.proxy
                    or not graph.app_has_tables(opts.app_label, schema_name)):
                continue
            for field in opts.local_concrete_fields:
                pairs[(opts.db_table, cast(str, field.column))] = None
        expected = _expected_cache[key] = tuple(pairs)
    return expected


def check_pages(tenant: Tenant) -> dict[str, str]:
    """Render the tenant's home page and a service page through the whole request stack."""
    # Another worker may have cached this host in this process while the tenant was in
    # maintenance: read the tenant's row again.
    host_cache.clear()
    domain = tenant.primary_domain
    if not domain:
        return {"home page": "the tenant has no domain"}
    renderer = _renderer()
    secure = settings.DGBOX_SITE_SCHEME == "https"
    # The home page in the tenant's language: "/" only redirects there, after rendering a 404
    # page for the locale middleware to turn into the redirect (a third of the check's work).
    home = f"/{tenant.default_language}/"
    results = {"home page": renderer.get(home, domain, secure)}
    try:
        path = _service_page_path(tenant)
    except Exception as exc:  # noqa: BLE001
        results["service page"] = _describe(exc)
    else:
        results["service page"] = (renderer.get(path, domain, secure) if path
                                   else "no published service or catalogue page")
    connection.set_schema_to_public()
    return results


class PageRenderer:
    """GET requests through Django's whole middleware chain in this process, as a citizen's
    request goes, without the test client's extras (cookies, request_started/finished and
    their connection clean-up, copies of each rendered template's context): the middleware
    is loaded once per process and a request is built with RequestFactory. Follows
    redirects on the same host, as the test client's `follow=True` did."""

    MAX_REDIRECTS = 5

    def __init__(self) -> None:
        self.handler = BaseHandler()
        self.handler.load_middleware()
        self.factory = RequestFactory()
        self._raised: list[BaseException] = []
        # A view that raises becomes a 500 page in the handler: keep the exception to name it.
        got_request_exception.connect(self._keep_exception, weak=False,
                                      dispatch_uid="dgbox-rollout-health-pages")

    def _keep_exception(self, request: Any = None, **_kwargs: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and getattr(request, "_dgbox_health_check", False):
            self._raised.append(error)

    def get(self, path: str, host: str, secure: bool) -> str:
        """"ok", or what went wrong: the status and the address that answered it, or the
        exception a view raised."""
        for _ in range(self.MAX_REDIRECTS + 1):
            request = self.factory.get(path, HTTP_HOST=host, secure=secure)
            request._dgbox_health_check = True  # type: ignore[attr-defined]
            self._raised.clear()
            try:
                response = self.handler.get_response(request)
            except Exception as exc:  # noqa: BLE001 - a view that raises is the failure we report
                return _describe(exc)
            if response.status_code in (301, 302, 303, 307, 308):
                target = urlsplit(response["Location"])
                if target.netloc and target.hostname != host.split(":")[0]:
                    return f"GET {path} redirected to another host: {response['Location']}"
                path = target.path + (f"?{target.query}" if target.query else "")
                continue
            if response.status_code != 200:
                raised = f": {_describe(self._raised[-1])}" if self._raised else ""
                return f"GET {path} answered {response.status_code}{raised}"
            return "ok"
        return f"GET {path}: more than {self.MAX_REDIRECTS} redirects"


_renderers: list[PageRenderer] = []


def _renderer() -> PageRenderer:
    # One per process (a forked worker inherits its parent's, built by the step the rollout
    # runs before forking): the middleware chain is loaded once.
    if not _renderers:
        _renderers.append(PageRenderer())
    return _renderers[0]


def _service_page_path(tenant: Tenant) -> str | None:
    with tenant_context(tenant):
        pages = Page.objects.live().public().filter(content_type__model__in=SERVICE_PAGE_MODELS)
        by_model: dict[str, Any] = {}
        for page in pages.select_related("content_type").order_by("path")[:50]:
            by_model.setdefault(page.content_type.model, page)
        for model in SERVICE_PAGE_MODELS:
            if model in by_model:
                url: str | None = by_model[model].get_url()
                return url
    return None


def run_health_check(tenant: Tenant | None, schema_name: str, *, pages: bool) -> dict[str, Any]:
    """Every check for one schema; raises HealthCheckFailed listing each result if any
    failed, else returns {check: "ok", ..., "seconds": s}."""
    started = time.perf_counter()
    results = check_schema(schema_name)
    if pages and tenant is not None:
        connection.set_schema_to_public()
        results.update(check_pages(tenant))
    if any(v != "ok" for v in results.values()):
        raise HealthCheckFailed(results)
    results["seconds"] = round(time.perf_counter() - started, 3)
    return results


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]
