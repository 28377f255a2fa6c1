"""Django's own PostgreSQL backend, answering the two attributes dgbox's code reads from a
django-tenants connection (`schema_name`, `tenant`) with constants: the plain site has one
schema and no tenant. Nothing is sent to the database for them (no `SET search_path`), so the
baseline stays a plain single-site Wagtail; signal handlers that act per tenant (the national
catalogue, the tenant cache's invalidation) see the public schema and skip, as they do in the
template schema.
"""

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    schema_name = "public"
    tenant = None
    include_public_schema = True
