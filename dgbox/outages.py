"""When PostgreSQL or S3 fails during a request: a "try again" page (503), never a trace.

- **PostgreSQL**: a request whose connection is lost (backend terminated, server restarting
  or refusing connections; any `OperationalError` or `InterfaceError`) is answered with the
  503 page and `Retry-After`. A GET or HEAD whose connection was lost is first run once more
  on a new connection (idempotent reads only; a POST is never repeated: its transaction was
  rolled back, and sending the form again is safe, see `submit_application`). The next
  request reconnects by itself: Django drops a connection that failed at the end of the
  request, and `CONN_HEALTH_CHECKS` tests a persistent connection before its first use in a
  request.
- **S3**: an object store that cannot be reached or refuses us (`infra.s3.S3Error`, except
  "no such object") gives the same page worded for files. The apply form handles its own
  uploads (the form comes back with the answers: services/applications/views.py).
- **Redis** never gets here: the cache logs and carries on (CACHES in dgbox/settings/base.py).

Why a signal and a middleware: Django turns an exception into a 500 response at the
middleware layer where it is raised (tenant routing, the session, the view), so an outer
middleware never sees the exception itself. `got_request_exception`, sent just before that
500 is made, marks the request; `DependencyFailureMiddleware`, placed before everything that
uses the database or S3, then answers instead of the 500. The 503 page is rendered without
the database (no request context), in the page's language, and keeps the security headers
the 500 response was given. django.request does not log the 500 (dgbox/logfilters.py); this
module logs one warning per failure instead. See docs/operations.md.
"""

import logging
import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from infra.s3 import S3Error, S3NotFound

from .logfilters import FAILURE_ATTRIBUTE

log = logging.getLogger(__name__)

DATABASE = "database"
FILES = "files"
#: Seconds the 503 page asks clients to wait (Retry-After).
RETRY_AFTER_SECONDS = 30
#: Headers of the 500 response that describe its body; the rest (security headers) are kept.
_BODY_HEADERS = {"content-type", "content-length", "content-language", "content-disposition",
                 "cache-control", "expires", "last-modified", "etag", "retry-after", "location",
                 "vary"}
#: Middlewares whose headers every page carries (when installed), the 503 page too.
_HEADER_MIDDLEWARES = ("django.middleware.security.SecurityMiddleware",
                       "django.middleware.clickjacking.XFrameOptionsMiddleware")
_installed = False


def failure_kind(exc: BaseException | None) -> str | None:
    """DATABASE, FILES, or None for an exception that is not a dependency failing."""
    for _depth in range(4):  # the exception, or what it was raised from
        if exc is None:
            return None
        if isinstance(exc, OperationalError | InterfaceError):
            return DATABASE
        if isinstance(exc, S3Error) and not isinstance(exc, S3NotFound):
            return FILES
        exc = exc.__cause__
    return None


def _note_failure(sender, request=None, **kwargs):
    exc = sys.exc_info()[1]
    if _installed and request is not None and failure_kind(exc):
        setattr(request, FAILURE_ATTRIBUTE, exc)


got_request_exception.connect(_note_failure, dispatch_uid="dgbox-dependency-failure")


def _connections_lost() -> bool:
    """Close every connection of this thread that no longer works; True if one was lost."""
    lost = False
    for conn in connections.all(initialized_only=True):
        if conn.connection is None or not conn.is_usable():
            conn.close()
            lost = True
    return lost


class DependencyFailureMiddleware:
    """Answers a request that lost PostgreSQL or S3 with the 503 page (see the module)."""

    def __init__(self, get_response):
        global _installed  # the signal only marks requests once installed
        _installed = True
        self.get_response = get_response
        # A failure in tenant routing happens before Django's header middlewares run: they
        # are applied to the 503 page here (each only sets what is not set yet).
        self.header_middlewares = [
            import_string(path)(get_response) for path in _HEADER_MIDDLEWARES
            if path in settings.MIDDLEWARE]

    def __call__(self, request):
        response = self.get_response(request)
        failure = request.__dict__.pop(FAILURE_ATTRIBUTE, None)
        if failure is None:
            return response
        kind = failure_kind(failure)
        if kind == DATABASE and request.method in ("GET", "HEAD") and _connections_lost():
            log.warning("%s %s lost its database connection (%s: %s); running it once more "
                        "on a new connection", request.method, request.path,
                        type(failure).__name__, str(failure).strip())
            response = self.get_response(request)
            failure = request.__dict__.pop(FAILURE_ATTRIBUTE, None)
            if failure is None:
                return response
            kind = failure_kind(failure)
        log.warning("%s %s answered 503: %s unavailable (%s: %s)", request.method,
                    request.path, kind, type(failure).__name__, str(failure).strip(),
                    exc_info=(type(failure), failure, failure.__traceback__))
        unavailable = unavailable_response(request, kind, headers_from=response)
        for middleware in self.header_middlewares:
            unavailable = middleware.process_response(request, unavailable)
        return unavailable


def page_language(request) -> str:
    """The URL's language (/ru/, /en/), else the one the locale middleware chose, else the
    language cookie, else the platform default."""
    supported = dict(settings.LANGUAGES)
    for language in (translation.get_language_from_path(request.path_info),
                     getattr(request, "LANGUAGE_CODE", None),
                     request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)):
        if language in supported:
            return language
    return settings.LANGUAGE_CODE


def unavailable_response(request, kind: str, headers_from=None) -> HttpResponse:
    """The 503 "try again" answer: an HTML page, or problem JSON under /api/."""
    language = page_language(request)
    with translation.override(language):
        if request.path_info.startswith("/api/"):
            response = JsonResponse({
                "type": "about:blank",
                "title": _("Service temporarily unavailable"),
                "status": 503,
                "detail": _("Please try again in %(seconds)s seconds.")
                % {"seconds": RETRY_AFTER_SECONDS},
            }, status=503, content_type="application/problem+json")
        else:
            # No request context: its processors (user, site settings) would need the
            # database that may be the thing that failed.
            response = HttpResponse(render_to_string("unavailable.html", {"kind": kind}),
                                    status=503)
    if headers_from is not None:
        for name, value in headers_from.items():
            if name.lower() not in _BODY_HEADERS:
                response.headers.setdefault(name, value)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    response["Content-Language"] = language
    return response
