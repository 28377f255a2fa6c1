"""Headers every response carries: Content-Security-Policy (django-csp), Permissions-Policy
(django-permissions-policy, configured in settings only) and the request id (django-guid).

What is written here, and why it is not in those libraries:

- **frame-ancestors follows X-Frame-Options.** Every page is `DENY` (X_FRAME_OPTIONS), so the
  policy says `frame-ancestors 'none'`; the few views Django or Wagtail mark
  `xframe_options_sameorigin` (Wagtail's page preview, shown in an iframe of the editor) get
  `'self'`, or CSP, which browsers obey before X-Frame-Options, would break the preview.
- **Wagtail's admin allows inline styles** (not scripts): see ADMIN_STYLE_SRC.
- **The nonce without a request context.** Some pages are rendered with no request in their
  context: the 500 page (Django renders it bare, so it cannot need the database), the 503
  "try again" page (dgbox/outages.py), widgets rendered by form renderers. The middleware
  keeps the request in a context variable for the length of the request, so the
  `csp_nonce` and `request_id` template tags (dgbox/templatetags/dgbox_headers.py, built into
  every template) work in all of them.
- **X-Request-ID from trusted proxies only.** django-guid accepts any client's header; a
  client could then choose the reference shown on its error page and written in the log,
  and make its lines look like somebody else's. Here the header is dropped unless the
  request comes straight from an address in DGBOX_TRUSTED_PROXY_NETWORKS (the ingress);
  django-guid then validates it (a UUID, nothing else) or makes a new one.
"""

import ipaddress
from collections.abc import Callable
from contextvars import ContextVar

from csp.constants import HEADER
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django_guid.context import guid
from django_guid.middleware import guid_middleware

#: The request being answered by this thread or task (None outside a request).
current_request: ContextVar[HttpRequest | None] = ContextVar("dgbox_request", default=None)

REQUEST_ID_META = "HTTP_X_REQUEST_ID"
#: Wagtail's admin (tenant sites): its templates write style attributes and its bundled
#: libraries add <style> elements at run time, which no nonce can reach; style-src there
#: allows inline styles (docs/security.md, "Headers", says why this is an acceptable risk).
#: Scripts stay nonce-only in the admin too.
ADMIN_PREFIX = "/admin/"
ADMIN_STYLE_SRC = ["'self'", "'unsafe-inline'"]


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware, with the two additions the module describes."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        current_request.set(request)

    def get_policy_parts(self, request: HttpRequest, response: HttpResponseBase,
                         report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        replace = dict(parts.replace or {})
        if _framed_by_self(response):
            replace["frame-ancestors"] = ["'self'"]
        if request.path_info.startswith(ADMIN_PREFIX):
            replace["style-src"] = ADMIN_STYLE_SRC
        parts.replace = replace or None
        return parts


    def process_response(self, request: HttpRequest,
                         response: HttpResponseBase) -> HttpResponseBase:
        response = super().process_response(request, response)
        # Wagtail renders a preview through the whole middleware chain (make_preview_request),
        # so its response already has a policy, written before the preview view made it
        # SAMEORIGIN: bring frame-ancestors in line.
        if _framed_by_self(response) and HEADER in response:
            response[HEADER] = response[HEADER].replace("frame-ancestors 'none'",
                                                        "frame-ancestors 'self'")
        return response


def _framed_by_self(response: HttpResponseBase) -> bool:
    return str(response.get("X-Frame-Options", "")).upper() == "SAMEORIGIN"


def csp_nonce() -> str:
    """The nonce of the request being answered ('' outside a request): put on each inline
    `<script>` or `<style>` dgbox writes; the policy then names it."""
    request = current_request.get()
    nonce = getattr(request, "csp_nonce", None)
    return str(nonce) if nonce is not None else ""


def request_id() -> str:
    """The id of the request being answered: its incident reference ('' outside a request)."""
    return guid.get() or ""


def _trusted_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False)
                 for net in settings.DGBOX_TRUSTED_PROXY_NETWORKS)


def from_trusted_proxy(request: HttpRequest) -> bool:
    """True when the request came straight from a proxy the platform trusts."""
    networks = _trusted_networks()
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in networks)


def request_id_middleware(
        get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """django-guid's middleware, fed X-Request-ID only from trusted proxies. First in
    MIDDLEWARE, so every log line of the request carries the id (LOGGING: the request_id
    filter) and every response echoes it."""
    inner = guid_middleware(get_response)

    def middleware(request: HttpRequest) -> HttpResponseBase:
        if not from_trusted_proxy(request):
            request.META.pop(REQUEST_ID_META, None)
        return inner(request)  # type: ignore[no-any-return]

    return middleware
