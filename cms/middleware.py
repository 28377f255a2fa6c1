"""Language: the URL prefix (/ru/, /en/) wins, then the language cookie, then the tenant's
default language from its record (not the browser's Accept-Language: a municipality chooses
the language its site opens in). Then the request's Wagtail site, from the tenant's cache."""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django_tenants.utils import get_public_schema_name
from wagtail.contrib.redirects.middleware import RedirectMiddleware as WagtailRedirectMiddleware

from tenants.db import connection

from .chrome import site_for

# Paths outside i18n_patterns: a 404 there is a real 404, not a page missing its /ru/ prefix
# (the APIs included: a 404 problem of /api/v1/ is never redirected to /ru/api/v1/).
UNPREFIXED = ("/admin/", "/documents/", "/feedback/", "/static/", "/media/", "/api/")
# ... and these exact paths: the operator host's metrics, a plain 404 on a tenant's host
# (dgbox/urls_tenant.py), never a redirect to /ru/metrics/.
UNPREFIXED_PATHS = frozenset({"/metrics"})


class TenantLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        supported = dict(settings.LANGUAGES)
        language = translation.get_language_from_path(request.path_info)
        if not language:
            cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            tenant = getattr(request, "tenant", None)
            default = getattr(tenant, "default_language", settings.LANGUAGE_CODE)
            language = cookie if cookie in supported else default
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(self, request, response):
        if request.path_info.startswith(UNPREFIXED) or request.path_info in UNPREFIXED_PATHS:
            response.headers.setdefault("Content-Language", translation.get_language())
            return response
        return super().process_response(request, response)


class SiteMiddleware:
    """Finds the Wagtail site of a tenant's request in the tenant's cache (cms/chrome.py), where
    Wagtail's views, tags and settings then find it (`Site.find_for_request`): no query on a
    warm page. The national portal (the public schema's URLconf) has no Wagtail site."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(request, "urlconf", None) != settings.PUBLIC_SCHEMA_URLCONF:
            site_for(request)
        return self.get_response(request)


class RedirectMiddleware(WagtailRedirectMiddleware):
    """Wagtail's redirects for a tenant's 404s: those its editors add under Settings >
    Redirects, and those Wagtail adds itself when a published page's address changes (its
    slug, or a move), so that old links and bookmarks lead to the page. One query on the
    tenant's redirects, on a 404 only. Not on the national portal or an unknown host: the
    public schema has no redirects."""

    def process_response(self, request, response):
        if response.status_code != 404 or connection.schema_name == get_public_schema_name():
            return response
        return super().process_response(request, response)
