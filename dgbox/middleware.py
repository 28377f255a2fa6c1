"""Project-wide middleware: health probes answered before tenant routing, and malformed
query strings refused with a clear 400 before any view reads them.

Load balancers and Kubernetes call the probes with the pod's IP as Host, which is no
tenant's domain, so they must not go through tenant routing.
"""

import logging

from django.db import connection
from django.http import JsonResponse
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
#: Query values longer than this are refused (no view needs one; search terms are cut at 200).
MAX_QUERY_VALUE = 2000


def malformed_query(request):
    """Why the request's path or query string cannot be served, or None. Form fields (POST)
    are left to the forms, whose CharFields already refuse NUL characters."""
    if FORBIDDEN.intersection(request.path):
        return _("The web address contains a character that is not allowed.")
    for name, values in request.GET.lists():
        if FORBIDDEN.intersection(name) or any(FORBIDDEN.intersection(v) for v in values):
            return _("The value of “%(name)s” contains a character that is not allowed.") % {
                "name": name.translate({ord(c): "" for c in FORBIDDEN})[:40]}
        if any(len(v) > MAX_QUERY_VALUE for v in values):
            return _("The value of “%(name)s” is too long (at most %(max)s characters).") % {
                "name": name[:40], "max": MAX_QUERY_VALUE}
    return None


class MalformedInputMiddleware:
    """Answer 400 to a path or query string no view could use (a NUL byte, control
    characters, a value of kilobytes), naming the parameter: as application/problem+json
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
