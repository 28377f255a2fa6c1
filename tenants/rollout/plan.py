"""What a rollout has to do, read in one pass: every schema's pending migrations, no `migrate`.

Stock `migrate_schemas` answers "is there anything to migrate?" by running Django's `migrate`
once per schema: it loads the migration graph, replays ~200 migrations into a project state,
runs the autodetector and sends post_migrate (about 70 queries) in every schema, even when
nothing is pending. Here the graph is built once, from the migration files only, and a single
query (a UNION ALL over every schema's `django_migrations`) returns the migrations each schema
lacks. With nothing pending, that query returns no rows.

Two kinds of pending migration:

* **work**: migrations of apps that have tables in that schema (TENANT_APPS in a tenant or the
  template, SHARED_APPS in public). They run through the migration executor.
* **bookkeeping**: migrations of apps that have no tables there (e.g. `tenants` in a tenant
  schema). django-tenants' router turns every operation of them into a no-op in that schema
  and Django only records them, so a rollout records them in bulk, without maintenance.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django_tenants.utils import get_public_schema_name

from tenants.db import connection
from tenants.launch import template
from tenants.launch.template import TEMPLATE_SCHEMA
from tenants.models import ReleaseChannel, Tenant

# UNION ALL branches per query: keeps each statement a reasonable size on big fleets.
SCHEMAS_PER_QUERY = 400

#: A migration: (app label, migration name).
Key = tuple[str, str]


@dataclass(frozen=True)
class Graph:
    """The migration graph of the running code, built from the files once per process."""

    loader: MigrationLoader
    nodes: frozenset[Key]  # (app, name) after squashes are resolved
    replacements: dict[Key, tuple[Key, ...]]  # squash key -> tuple of the keys it replaces
    tenant_labels: frozenset[str]
    shared_labels: frozenset[str]
    fingerprint: str

    def app_has_tables(self, app_label: str, schema_name: str) -> bool:
        """Whether django-tenants' router lets `app_label` create tables in `schema_name`."""
        if schema_name == get_public_schema_name():
            return app_label in self.shared_labels
        return app_label in self.tenant_labels


def _labels(app_names: Iterable[str]) -> frozenset[str]:
    names = set(app_names)
    return frozenset(cfg.label for cfg in apps.get_app_configs() if cfg.name in names)


@lru_cache(maxsize=1)
def migration_graph() -> Graph:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    replacements = {key: tuple(m.replaces) for key, m in loader.replacements.items()}
    nodes = frozenset(loader.graph.nodes)
    digest = hashlib.sha256("\n".join(f"{a}.{n}" for a, n in sorted(nodes)).encode())
    return Graph(loader=loader, nodes=nodes, replacements=replacements,
                 tenant_labels=_labels(settings.TENANT_APPS),
                 shared_labels=_labels(settings.SHARED_APPS),
                 fingerprint=digest.hexdigest()[:16])


def reset_caches() -> None:
    """Forget the graph (tests swap migration modules; a process never needs this)."""
    migration_graph.cache_clear()
    release_label.cache_clear()


@lru_cache(maxsize=1)
def release_label() -> str:
    """What the running code is called in rollout history: package version + migrations."""
    try:
        pkg = version("dgbox")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        pkg = "0"
    return f"{pkg}+{migration_graph().fingerprint[:8]}"


def pending_from_missing(graph: Graph, missing: set[Key]) -> list[Key]:
    """The graph nodes a schema still needs, given the keys its `django_migrations` lacks
    (graph nodes and replaced keys). A squash counts as applied when it or all the migrations
    it replaces are recorded, as in Django's loader. Sorted in the graph's apply order."""
    pending: set[Key] = set()
    # Over what the schema lacks (nothing, for an up-to-date one), not over the ~250 nodes:
    # a no-op plan of 1,000 tenants is then no Python work per tenant.
    for key in missing:
        if key not in graph.nodes:
            continue  # a migration a squash replaced
        replaced = graph.replacements.get(key)
        if replaced and not any(r in missing for r in replaced):
            continue  # every replaced migration applied: Django treats the squash as applied
        pending.add(key)
    return _in_plan_order(graph, pending)


def _in_plan_order(graph: Graph, keys: set[Key]) -> list[Key]:
    if not keys:
        return []
    order = _plan_order(graph)
    return sorted(keys, key=lambda k: order.get(k, 1 << 30))


_order_cache: dict[str, dict[Key, int]] = {}


def _plan_order(graph: Graph) -> dict[Key, int]:
    order = _order_cache.get(graph.fingerprint)
    if order is None:
        plan: list[Key] = []
        for leaf in sorted(graph.loader.graph.leaf_nodes()):
            for key in graph.loader.graph.forwards_plan(leaf):
                plan.append(key)
        order = {}
        for key in plan:
            order.setdefault(key, len(order))
        _order_cache.clear()
        _order_cache[graph.fingerprint] = order
    return order


@dataclass
class SchemaPlan:
    """One schema's state: what it lacks, split into work and bookkeeping."""

    schema_name: str
    kind: str  # "public", "template", "tenant"
    work: list[Key] = field(default_factory=list)
    bookkeeping: list[Key] = field(default_factory=list)
    tenant: dict[str, Any] | None = None  # the Tenant row's fields (tenants only)

    @property
    def up_to_date(self) -> bool:
        return not self.work and not self.bookkeeping

    @property
    def slug(self) -> str:
        slug: str = self.tenant["slug"] if self.tenant else self.schema_name
        return slug

    @property
    def row(self) -> dict[str, Any]:
        """The Tenant row's fields of a tenant's plan; empty for public and the template."""
        return self.tenant or {}


@dataclass
class Plan:
    release: str
    fingerprint: str
    public: SchemaPlan
    template: SchemaPlan | None  # None: the template schema does not exist yet
    template_fresh: bool  # the launch snapshot matches the code's tenant migrations
    tenants: list[SchemaPlan]
    missing_schemas: list[dict[str, str]]  # tenant rows whose schema does not exist

    @property
    def tenants_with_work(self) -> list[SchemaPlan]:
        return [t for t in self.tenants if t.work]

    @property
    def tenants_with_bookkeeping_only(self) -> list[SchemaPlan]:
        return [t for t in self.tenants if t.bookkeeping and not t.work]

    @property
    def template_needs_refresh(self) -> bool:
        return self.template is None or not self.template.up_to_date or not self.template_fresh

    @property
    def nothing_to_do(self) -> bool:
        return (self.public.up_to_date and not self.template_needs_refresh
                and all(t.up_to_date for t in self.tenants))

    def version_map(self) -> list[dict[str, Any]]:
        """Tenants grouped by where their schema is: up to date, or which migrations they
        lack. Each group lists the releases last recorded by a rollout."""
        groups: dict[tuple[Key, ...], dict[str, Any]] = {}
        for t in self.tenants:
            key = tuple(t.work)
            group = groups.setdefault(key, {"pending": [f"{a}.{n}" for a, n in key],
                                            "tenants": [], "releases": {}})
            group["tenants"].append(t.slug)
            recorded = t.row.get("release") or "(as launched)"
            group["releases"][recorded] = group["releases"].get(recorded, 0) + 1
        return sorted(groups.values(), key=lambda g: (len(g["pending"]), g["pending"]))

    def as_dict(self) -> dict[str, Any]:
        def schema(p: SchemaPlan | None) -> dict[str, Any] | None:
            if p is None:
                return None
            return {"schema": p.schema_name, "slug": p.slug, "kind": p.kind,
                    "channel": p.tenant.get("release_channel") if p.tenant else None,
                    "status": p.tenant.get("status") if p.tenant else None,
                    "release": (p.tenant.get("release") or None) if p.tenant else None,
                    "pending": [f"{a}.{n}" for a, n in p.work],
                    "bookkeeping": [f"{a}.{n}" for a, n in p.bookkeeping]}

        return {
            "release": self.release, "fingerprint": self.fingerprint,
            "nothing_to_do": self.nothing_to_do,
            "public": schema(self.public), "template": schema(self.template),
            "template_snapshot_fresh": self.template_fresh,
            "tenants": [schema(t) for t in self.tenants],
            "missing_schemas": self.missing_schemas,
            "version_map": self.version_map(),
        }


TENANT_FIELDS = ("id", "slug", "name", "schema_name", "status", "kind", "release_channel",
                 "release", "maintenance")


def build_plan(slugs: list[str] | None = None) -> Plan:
    """Read every schema's migration state in a few queries and compare it with the code's."""
    graph = migration_graph()
    public_name = get_public_schema_name()
    connection.set_schema_to_public()
    rows = _tenant_rows(slugs)
    if slugs:
        unknown = set(slugs) - {r["slug"] for r in rows}
        if unknown:
            raise ValueError("No tenant with slug " + ", ".join(sorted(unknown))
                             + " (see `dgbox tenant list`).")
    with_table = schemas_with_migrations_table()
    tenant_rows = [r for r in rows if r["schema_name"] in with_table]
    missing_rows = [r for r in rows if r["schema_name"] not in with_table]
    schemas = [public_name] + ([TEMPLATE_SCHEMA] if TEMPLATE_SCHEMA in with_table else [])
    schemas += [r["schema_name"] for r in tenant_rows]
    missing = missing_migrations(schemas, graph)

    def schema_plan(name: str, kind: str, tenant: dict[str, Any] | None = None) -> SchemaPlan:
        pending = pending_from_missing(graph, missing.get(name, set()))
        plan = SchemaPlan(schema_name=name, kind=kind, tenant=tenant)
        for key in pending:
            (plan.work if graph.app_has_tables(key[0], name) else plan.bookkeeping).append(key)
        return plan

    status = template.template_status()
    return Plan(
        release=release_label(), fingerprint=graph.fingerprint,
        public=schema_plan(public_name, "public"),
        template=schema_plan(TEMPLATE_SCHEMA, "template") if TEMPLATE_SCHEMA in with_table
        else None,
        template_fresh=status["fresh"],
        tenants=[schema_plan(r["schema_name"], "tenant", r) for r in tenant_rows],
        missing_schemas=[{"slug": r["slug"], "schema": r["schema_name"]} for r in missing_rows],
    )


def public_plan() -> SchemaPlan:
    """The public schema's own plan (read before anything else: the rollout's tables and the
    tenant fields it reads may be among its pending migrations)."""
    graph = migration_graph()
    name = get_public_schema_name()
    connection.set_schema_to_public()
    plan = SchemaPlan(schema_name=name, kind="public")
    for key in pending_from_missing(graph, missing_migrations([name], graph).get(name, set())):
        (plan.work if graph.app_has_tables(key[0], name) else plan.bookkeeping).append(key)
    return plan


def _tenant_rows(slugs: list[str] | None) -> list[dict[str, Any]]:
    # Before the public schema is migrated to this code, the release fields may not exist.
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns "
                       "WHERE table_schema = %s AND table_name = %s",
                       [get_public_schema_name(), Tenant._meta.db_table])
        columns = {row[0] for row in cursor.fetchall()}
    fields = [f for f in TENANT_FIELDS if Tenant._meta.get_field(f).column in columns]
    rows = Tenant.objects.launched().order_by("pk")
    if slugs:
        rows = rows.filter(slug__in=slugs)
    defaults = {"release_channel": ReleaseChannel.STABLE, "release": "", "maintenance": False}
    return [{**defaults, **row} for row in rows.values(*fields)]


def schemas_with_migrations_table() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'django_migrations' AND c.relkind IN ('r', 'p')"
        )
        return {row[0] for row in cursor.fetchall()}


_EXPECTED_CTE = "WITH expected(app, name) AS (SELECT * FROM unnest(%s::text[], %s::text[])) "


def missing_migrations(schemas: list[str], graph: Graph) -> dict[str, set[Key]]:
    """{schema: {(app, name) the code has and the schema has not recorded}} for every schema,
    in one query per SCHEMAS_PER_QUERY schemas. Schemas lacking nothing are absent."""
    expected = set(graph.nodes)
    for replaced in graph.replacements.values():
        expected.update(replaced)
    keys = sorted(expected)
    app_list, name_list = [k[0] for k in keys], [k[1] for k in keys]
    quote = connection.ops.quote_name
    result: dict[str, set[Key]] = {}
    for start in range(0, len(schemas), SCHEMAS_PER_QUERY):
        chunk = schemas[start:start + SCHEMAS_PER_QUERY]
        branches = [
            f"SELECT %s AS schema_name, e.app, e.name FROM expected e "  # noqa: S608 - names quoted with quote_name, values passed as parameters # nosec B608
            f"WHERE NOT EXISTS (SELECT 1 FROM {quote(name)}.django_migrations m "
            f"WHERE m.app = e.app AND m.name = e.name)"
            for name in chunk
        ]
        sql = _EXPECTED_CTE + " UNION ALL ".join(branches)
        with connection.cursor() as cursor:
            cursor.execute(sql, [app_list, name_list, *chunk])
            for schema_name, app, name in cursor.fetchall():
                result.setdefault(schema_name, set()).add((app, name))
    return result


def ring_of(tenant: dict[str, Any], canary_slugs: set[str]) -> str:
    if tenant["slug"] in canary_slugs or tenant["release_channel"] == ReleaseChannel.CANARY:
        return "canary"
    return "wave"
