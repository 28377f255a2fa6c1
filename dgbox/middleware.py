"""Middleware that knows nothing of tenants: health probes, response compression, and
malformed query strings refused with a clear 400 before any view reads them.

Health probes are answered before the tenant middleware: load balancers and Kubernetes call
them with the pod's IP as Host, which is no tenant's domain, so they must not go through
tenant routing.
"""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import render
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


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


#: Characters no address or query value may hold: NUL (PostgreSQL text cannot store it, so a
#: search for it would fail in the database) and the other C0 controls but tab and newlines.
FORBIDDEN = {chr(code) for code in range(32)} - {"\t", "\n", "\r"}


def malformed_query(request):
    """Why the request's path or query string cannot be served, or None. Form fields (POST)
    are left to the forms, whose CharFields already refuse NUL characters."""
    if FORBIDDEN.intersection(request.path):
        return _("The web address contains a character that is not allowed.")
    for name, values in request.GET.lists():
        if FORBIDDEN.intersection(name) or any(FORBIDDEN.intersection(v) for v in values):
            return _("The value of “%(name)s” contains a character that is not allowed.") % {
                "name": name.translate({ord(c): "" for c in FORBIDDEN})[:40]}
    return None


class MalformedInputMiddleware:
    """Answer 400 to a path or query string no view could use (a NUL byte, control
    characters), naming the parameter: as application/problem+json
    under /api/, as the site's own error page elsewhere. Placed after the locale middleware
    so the page is in the site's language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = malformed_query(request)
        if problem is None:
            return self.get_response(request)
        log.info("Refused a malformed request to %s: %s", request.path.encode(
            "unicode_escape").decode()[:200], problem)
        if request.path.startswith("/api/"):
            return JsonResponse({"type": "about:blank", "title": _("Bad request"),
                                 "status": 400, "detail": problem}, status=400,
                                content_type="application/problem+json")
        return render(request, "400.html", {"problem": problem}, status=400)


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
