"""The open API's limits (REST_FRAMEWORK in dgbox/settings/base.py; cms/api.py says what they
are for). Kept apart from cms/api.py: REST framework imports these classes while Wagtail's API
views, which cms/api.py imports, are still loading."""

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from infra.clientip import client_address
from tenants import limits


class _CountingThrottle(BaseThrottle):
    """A REST framework throttle on tenants/limits.py's atomic counters (fails open)."""

    def __init__(self):
        self.count = None

    def allow_request(self, request, view):
        self.count = self.counted(request._request)
        return self.count is None or not self.count.exceeded

    def wait(self):
        return self.count.retry_after if self.count is not None else None


class ClientRateThrottle(_CountingThrottle):
    """DGBOX_API_RATE per client address, in this tenant."""

    def counted(self, request):
        rate = limits.parse_rate(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["client"])
        return limits.hit_or_pass("api-client", client_address(request), rate)


class TenantRateThrottle(_CountingThrottle):
    """The tenant's own limit (DGBOX_TENANT_API_RATES by its kind), all clients together."""

    def counted(self, request):
        return limits.tenant_hit("api")


def exception_handler(exc, context):
    """REST framework's handler, with 429 answered as problem JSON (RFC 9457)."""
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        response = Response({
            "type": "about:blank",
            "title": _("Too many requests"),
            "status": 429,
            "detail": _("The request limit is reached. Try again in %(seconds)s s.")
            % {"seconds": wait},
        }, status=429, content_type="application/problem+json",
            headers={"Retry-After": str(wait), "Cache-Control": "no-store"})
        return response
    return drf_exception_handler(exc, context)
