"""Request metrics: every response counted by view, method and status, and timed.

First in MIDDLEWARE, so the responses of the middlewares below it count too (health probes,
static files, the unknown-host 404, the maintenance and outage pages): those never reach a
URL pattern and are labelled `view="unrouted"`.
"""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from . import instruments

#: Methods counted by name; anything else a client invents is counted as "other", so a
#: scanner cannot make new series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNROUTED = "unrouted"


def view_label(request: HttpRequest) -> str:
    """The URL pattern's name (`namespace:name`), or its dotted view path when it has no
    name; never the path itself, which a client chooses."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNROUTED
    return match.view_name or match._func_path


def request_metrics_middleware(
        get_response: Callable[[HttpRequest], HttpResponseBase]
) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = get_response(request)
        view = view_label(request)
        method = request.method if request.method in KNOWN_METHODS else "other"
        instruments.http_requests.labels(view, method, str(response.status_code)).inc()
        instruments.http_request_duration.labels(view).observe(time.perf_counter() - started)
        return response

    return middleware
