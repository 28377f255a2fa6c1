"""`/metrics` on the operator host: the web pod's figures and the fleet gauges, in
Prometheus's text format.

Routed in dgbox/urls_public.py; a tenant's host answers 404 (dgbox/urls_tenant.py routes the
path to `not_on_tenant_hosts`): the figures are the platform's, not a tenant's. Two optional
locks, either or both:

- DGBOX_METRICS_TOKEN: the scraper sends `Authorization: Bearer <token>` (a ServiceMonitor's
  `bearerTokenSecret`); without it, or with another, 401.
- DGBOX_METRICS_ALLOWED_NETWORKS: only clients in these networks (the monitoring network);
  from anywhere else, 404, as if there were nothing here.
"""

import functools
import hmac
from ipaddress import ip_address, ip_network

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from infra.clientip import client_address

from .exposition import scrape_registry
from .fleet import FleetCollector


@functools.cache
def registry() -> CollectorRegistry:
    return scrape_registry(settings.PROMETHEUS_MULTIPROC_DIR, FleetCollector())


def allowed_network(request: HttpRequest) -> bool:
    networks = settings.DGBOX_METRICS_ALLOWED_NETWORKS
    if not networks:
        return True
    try:
        address = ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in ip_network(network, strict=False) for network in networks)


def bearer_token_matches(request: HttpRequest) -> bool:
    expected = settings.DGBOX_METRICS_TOKEN
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              expected.encode())


def not_on_tenant_hosts(request: HttpRequest) -> HttpResponse:
    """`/metrics` on a tenant's host: the tenant's 404 page, at once."""
    raise Http404


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed_network(request):
        raise Http404
    if not bearer_token_matches(request):
        response = HttpResponse("A bearer token is required.\n", status=401,
                                content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
