"""Language: the URL prefix (/ru/, /en/) wins, then the language cookie, then the tenant's
default language from its record (not the browser's Accept-Language: a municipality chooses
the language its site opens in)."""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

# Paths outside i18n_patterns: a 404 there is a real 404, not a page missing its /ru/ prefix.
# /api/v1/ answers every path itself, its 404s as problem JSON (services/api/problems.py).
UNPREFIXED = ("/admin/", "/documents/", "/feedback/", "/static/", "/media/", "/api/v1/")
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
