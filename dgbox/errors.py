"""Error pages Django answers itself (handler400 in both URL confs, CSRF_FAILURE_VIEW) and the
429 page. Every error page is in the page's language, carries the security headers of every
other page (the header middlewares come first in MIDDLEWARE) and shows the request's id as
its incident reference, the id on that request's log lines (dgbox/headers.py).

The others: 404 (cms.views.page_not_found in a tenant site, 404.html on the base domain),
410/503 for archived and suspended tenants (tenants/middleware.py), 503 for outages
(dgbox/outages.py), 413 for an apply form over its limit (services/applications/views.py),
500 (Django's own handler renders 500.html without a request context; its tags need none).
"""

import math

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.csrf import requires_csrf_token


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: a request Django refused (SuspiciousOperation). A body over
    DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, not a 400. Rendered
    without a request context: the session or the user may be what was wrong."""
    if isinstance(exception, RequestDataTooBig):
        return HttpResponse(render_to_string("413.html"), status=413)
    return HttpResponse(render_to_string("400.html"), status=400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the site's 403 page saying what to do, not Django's English one."""
    return render(request, "403.html", {"csrf": True}, status=403)


def too_many_requests(request: HttpRequest, retry_after: int,
                      message: str = "") -> HttpResponse:
    """The 429 page with Retry-After: for limits that answer with a page (the API answers
    problem JSON through its throttle)."""
    response = render(request, "429.html", {
        "message": message, "minutes": max(1, math.ceil(retry_after / 60))}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
