"""Middleware that knows nothing of tenants: health probes and response compression.

Health probes are answered before the tenant middleware: load balancers and Kubernetes call
them with the pod's IP as Host, which is no tenant's domain, so they must not go through
tenant routing.
"""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.middleware.gzip import GZipMiddleware


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            try:
                connection.set_schema_to_public()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
                return JsonResponse({"status": "unavailable", "error": type(exc).__name__},
                                    status=503)
            return JsonResponse({"status": "ok"})
        return self.get_response(request)


class CompressionMiddleware(GZipMiddleware):
    """Django's GZipMiddleware (gzip when the client accepts it), except for responses to a
    request that carries a session cookie.

    Compression lets an attacker learn a secret from response sizes (BREACH) only when one
    response holds both a secret and text the attacker chose (e.g. a search query echoed
    back), and the victim's browser sends the credential that unlocks the secret by itself.
    The one such credential here is the session cookie: staff in the Wagtail admin or the
    operator console, a citizen whose application or tracking is kept in a session. Those
    responses stay uncompressed (they are few, and their static files are still
    compressed). Everything else is public: pages, the open API (no authentication at all),
    error pages; the only token in them is the CSRF token, which Django masks anew in every
    response, and Django pads every compressed response with up to 100 random bytes (Heal
    The Breach) on top.

    Static files never get here: WhiteNoise, above this middleware, serves them with the
    gzip and Brotli copies `collectstatic` made ahead of time.
    """

    def process_response(self, request, response):
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return response
        return super().process_response(request, response)
