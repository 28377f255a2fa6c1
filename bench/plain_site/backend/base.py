"""Django's own PostgreSQL backend, answering the two attributes dgbox's code reads from a
django-tenants connection (`schema_name`, `tenant`) with constants: the plain site has one
schema, and a stand-in tenant. Nothing is sent to the database for them (no `SET
search_path`), so the baseline stays a plain single-site Wagtail; signal handlers that act per
tenant (the national catalogue, the tenant cache's invalidation) see the public schema and
skip, as they do in the template schema.

The stand-in has an id, so that the tenant's cache (tenants/tenant_cache.py) keeps what the
site reads (the published service, the site's chrome) as it does for a real tenant: the
comparison is then of serving, not of caching. With DGBOX_BENCH_PLAIN_CACHE=off it has none:
the site is then served the way plain Wagtail serves it, from the database. Its entries live
in the plain site's own cache prefix (bench/plain_site/settings.py); as nothing invalidates
them there, an edit made to the plain site shows within the cache's `SECONDS` (the benchmark
edits nothing while it runs).
"""

import os
from types import SimpleNamespace

from django.db.backends.postgresql import base

#: The plain site's one tenant, as the tenant's cache sees it (an id; no schema of its own).
#: With DGBOX_BENCH_PLAIN_CACHE=off it has none, so every entry is computed on every request:
#: Wagtail's own serving from the database, dgbox's caches off (bench/serve.py's "wagtail"
#: side).
PLAIN_TENANT = SimpleNamespace(
    pk=None if os.environ.get("DGBOX_BENCH_PLAIN_CACHE") == "off" else "plain-site",
    schema_name="public")


class DatabaseWrapper(base.DatabaseWrapper):
    schema_name = "public"
    tenant = PLAIN_TENANT
    include_public_schema = True
