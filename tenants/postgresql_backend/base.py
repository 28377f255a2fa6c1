"""django-tenants' PostgreSQL backend, with connections recycled after N tenant schemas.

A PostgreSQL backend caches the catalog entries (relations, attributes, indexes, plans) of
every table it has touched, for its whole life, and a tenant's tables are tables of their
own: a persistent connection that served the home pages of 283 tenants held 72 MB, about
0.27 MB per tenant (docs/benchmarks.md, "Fleet scale"). Closing the connection is the only
way to give that memory back, so this wrapper counts the tenant schemas a connection has
worked in (each `SET search_path` it sent; the public schema is shared by all and not
counted) and closes it once the count reaches `DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION` (0: never).

It closes only where Django itself may close a persistent connection: in
`close_if_unusable_or_obsolete()`, which Django calls when a request starts and when it has
finished and Celery before and after each task; never inside a transaction. The next query
opens a new connection. `DGBOX_DB_CONN_MAX_AGE` still bounds the connection's age.
"""

from typing import Any

from django.conf import settings
from django_tenants.postgresql_backend import base as tenants_backend
from django_tenants.utils import get_public_schema_name


class DatabaseWrapper(tenants_backend.DatabaseWrapper):
    """django-tenants' wrapper that remembers the tenant schemas its connection has visited."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schemas_visited: set[str] = set()

    def connect(self) -> None:
        # A new backend: nothing cached yet. Reset before connecting: connecting runs a first
        # cursor (the connection's initial state), whose search path is counted then; the
        # cursors after it return early while that path holds (_handle_search_path).
        self.schemas_visited = set()
        super().connect()

    def _handle_search_path(self, cursor: Any = None) -> None:
        # Called for every cursor: the common case (the search path sent since the last
        # switch still holds) returns here, before django-tenants' checks and settings reads.
        if self.search_path_set_schemas is not None and settings.TENANT_LIMIT_SET_CALLS:
            return
        super()._handle_search_path(cursor)
        # search_path_set_schemas is what the backend now uses (None if the SET failed).
        for schema in self.search_path_set_schemas or ():
            if schema != get_public_schema_name():
                self.schemas_visited.add(schema)

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()
        limit = settings.DGBOX_DB_MAX_SCHEMAS_PER_CONNECTION
        if (limit > 0 and self.connection is not None and not self.in_atomic_block
                and len(self.schemas_visited) >= limit):
            self.close()
