"""The default database connection as django-tenants makes it, typed for mypy.

django-tenants' backend (ENGINE `django_tenants.postgresql_backend`) gives the connection a
schema and a tenant and the methods that switch them. Django's type stubs only know the base
class, so code here imports `connection` from this module: the very object
`django.db.connection` is, declared with those attributes.
"""

from typing import TYPE_CHECKING, Any, cast

from django.db import connection as _connection

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    class TenantDatabaseWrapper(BaseDatabaseWrapper):
        """What django_tenants.postgresql_backend.base.DatabaseWrapper adds."""

        schema_name: str
        tenant: Any  # a Tenant, or django-tenants' FakeTenant after set_schema()
        include_public_schema: bool

        def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

        def set_schema(self, schema_name: str, include_public: bool = True,
                       tenant_type: str | None = None) -> None: ...

        def set_schema_to_public(self) -> None: ...


connection = cast("TenantDatabaseWrapper", _connection)
