"""The plain site's one owner, where dgbox's templates look for it (`request.tenant.name`).

A constant set on the request: no query, so the baseline stays a plain Wagtail site.
"""

from types import SimpleNamespace

from django.conf import settings

SITE_OWNER = SimpleNamespace(name="Бенч-область 000", schema_name="public",
                             default_language=settings.LANGUAGE_CODE)


class SiteOwnerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = SITE_OWNER
        return self.get_response(request)
