"""Errors of /api/v1/ as `application/problem+json` (RFC 9457): every error, whatever raised
it, has `type`, `title`, `status` and `detail`; validation errors add `errors` (field -> list
of messages). Wagtail's API v2 keeps its own error shape (cms/throttles.py)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from cms.throttles import exception_handler as v2_exception_handler

PROBLEM = "application/problem+json"

TITLES = {
    400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 409: "Conflict", 413: "Too large",
    415: "Unsupported media type", 422: "Unprocessable content", 429: "Too many requests",
}


def problem(status_code: int, detail, *, title: str | None = None, errors=None, headers=None,
            type_: str = "about:blank") -> Response:
    body = {"type": type_, "title": title or _(TITLES.get(status_code, "Error")),
            "status": status_code, "detail": str(detail)}
    if errors is not None:
        body["errors"] = errors
    response = Response(body, status=status_code, content_type=PROBLEM, headers=headers)
    response["Cache-Control"] = "no-store"
    return response


def exception_handler(exc, context):
    """REST framework's EXCEPTION_HANDLER: problem JSON for /api/v1/ views (their class says
    `problem_json = True`), Wagtail's API v2 answered as before."""
    view = context.get("view")
    if not getattr(view, "problem_json", False):
        return v2_exception_handler(exc, context)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handling (logged, reported)
    headers = {}
    if isinstance(exc, exceptions.Throttled):
        wait = int(exc.wait or 1)
        headers["Retry-After"] = str(wait)
        detail = _("The request limit is reached. Try again in %(seconds)s s.") % {
            "seconds": wait}
        return problem(429, detail, headers=headers)
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return problem(status.HTTP_400_BAD_REQUEST, _("The request has invalid fields."),
                       errors=errors, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem(exc.status_code, detail, headers=headers)


def as_problem_json(response):
    """A problem is JSON whatever renderer the view would have used (the YAML document's,
    the reference page's HTML): called by every v1 view's finalize_response (base.V1)."""
    if isinstance(response, Response) and response.content_type == PROBLEM:
        response.accepted_renderer = JSONRenderer()
        response.accepted_media_type = PROBLEM
    return response


class NoSuchEndpoint(APIView):
    """The last route of /api/v1/: an unknown path is a 404 problem for every method, not the
    site's HTML 404 page (and not a redirect to add a slash)."""

    problem_json = True
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []
    schema = None  # not an operation of the document

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(_("There is no such endpoint under /api/v1/: the OpenAPI "
                                    "document /api/v1/openapi.json lists them."))

    def finalize_response(self, request, response, *args, **kwargs):
        return as_problem_json(super().finalize_response(request, response, *args, **kwargs))
