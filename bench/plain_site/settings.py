"""Settings of the plain single-site baseline for bench/serve.py.

The same project as a tenant site, minus multi-tenancy: dgbox's settings with django_tenants
removed from the apps, the plain PostgreSQL engine (no search_path handling), no tenant
routing (a stand-in sets the site's owner on the request, no query), and the tenant URLconf
(Wagtail under /ru/ and /en/, admin, feedback) as the only one.
The `tenants` app stays installed only for the national registers the service pages read.
Its database comes from DATABASE_URL like dgbox's; bench/serve.py points it at a database of
its own (dgbox_bench_plain by default) and fills it with the same demo content.
"""

from dgbox.settings.base import *  # noqa: F403
from dgbox.settings.base import CACHES as _TENANT_CACHES
from dgbox.settings.base import DATABASES as _TENANT_DATABASES
from dgbox.settings.base import INSTALLED_APPS as _TENANT_APPS
from dgbox.settings.base import MIDDLEWARE as _TENANT_MIDDLEWARE
from dgbox.settings.base import STORAGES as _TENANT_STORAGES

INSTALLED_APPS = [app for app in _TENANT_APPS if app != "django_tenants"]
# The routing middleware's place holds a stand-in that only sets `request.tenant` to the
# site's owner (a constant) for the templates' "official website of ..." lines.
MIDDLEWARE = [m if m != "tenants.middleware.TenantMiddleware"
              else "bench.plain_site.middleware.SiteOwnerMiddleware" for m in _TENANT_MIDDLEWARE]
ROOT_URLCONF = "dgbox.urls_tenant"
DATABASES = {"default": {**_TENANT_DATABASES["default"],
                         "ENGINE": "bench.plain_site.backend"}}
DATABASE_ROUTERS = []
# Uploads without a per-schema folder (there is no schema).
STORAGES = {**_TENANT_STORAGES,
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}

# Same backend and location as dgbox (Redis when REDIS_URL is set), without the schema-aware
# key function (there is no schema) and with a prefix of its own so that both sides can share
# one Redis without reading each other's entries.
CACHES = {"default": {
    key: value for key, value in _TENANT_CACHES["default"].items()
    if key not in ("KEY_FUNCTION", "REVERSE_KEY_FUNCTION")
}}
CACHES["default"]["KEY_PREFIX"] = "dgbox-plain-bench"
