"""Limits of /api/v1/ (the V1 mixin's throttle classes, services/api/base.py).

- A call with a key counts against its **client's** `rate_per_minute` (ApiClient), on the same
  atomic counters as every other limit (tenants/limits.py: Redis INCR in fixed windows, keys in
  the tenant's schema, failing open when Redis is down). A client's calls from many addresses
  share its limit; another client, or the same name on another tenant, has its own.
- A call **without** a key keeps the per-address limit (DGBOX_API_RATE, cms/throttles.py).
- Every call, with a key or without, counts against the tenant's own limit
  (DGBOX_TENANT_API_RATES by its kind): the platform's guard against a noisy tenant.
Over a limit the answer is 429 problem JSON with Retry-After (services/api/problems.py).
"""

from cms.throttles import ClientRateThrottle, TenantRateThrottle, _CountingThrottle
from tenants import limits

#: The counter's name in tenants/limits.py (`limit:api-key-client:<id>:<window>`).
COUNTER = "api-key-client"
#: rate_per_minute is counted in fixed windows of this many seconds.
WINDOW_SECONDS = 60


class ApiClientRateThrottle(_CountingThrottle):
    """The calling client's rate_per_minute (calls with a key only)."""

    def counted(self, request):
        # `request` is Django's request, on which key authentication left the client.
        client = getattr(request, "api_client", None)
        if client is None:
            return None
        rate = limits.Rate(max(1, client.rate_per_minute), WINDOW_SECONDS)
        return limits.hit_or_pass(COUNTER, str(client.pk), rate)


class KeylessAddressThrottle(ClientRateThrottle):
    """The per-address limit, for calls without a key (a client's own limit replaces it)."""

    def counted(self, request):
        if getattr(request, "api_client", None) is not None:
            return None
        return super().counted(request)


THROTTLES = [KeylessAddressThrottle, ApiClientRateThrottle, TenantRateThrottle]
