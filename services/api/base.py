"""What every /api/v1/ view shares: key authentication, problem JSON errors, the throttles, and
the audit of every call a client makes with its key."""

import logging

from rest_framework import exceptions, permissions

from tenants.audit.context import Actor
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.metering.counters import WRITE_METHODS

from .auth import ApiKeyAuthentication, HasScope, client_of
from .problems import as_problem_json
from .throttles import THROTTLES, KeylessAddressThrottle

log = logging.getLogger(__name__)


def audit_call(request, status_code: int) -> None:
    """Record every call a client makes with its key in the audit trail: client, key, method,
    path (without the query string), status; the request id is record()'s. Writes (POST, PUT,
    PATCH, DELETE) and reads are two kinds, so an administrator filters either. A call refused
    by the client's limit (429) is counted in metering, not audited: a client hammering its
    limit must not write audit rows at the rate it hammers. Calls without a key are not a
    client's: metering counts them (tenants/metering)."""
    client = client_of(request)
    if client is None or status_code == 429:
        return
    key = request.auth
    path = request.path[:200]
    actor = Actor(client.service_user_id, f"API client: {client.name}"[:200])
    kind = Kind.API_WRITE if request.method in WRITE_METHODS else Kind.API_READ
    record(kind, f"{request.method} {path} {status_code} ({client.name})",
           obj=client, actor=actor, request=request._request,
           details={"client": client.name, "client_id": client.pk,
                    "key": getattr(key, "prefix", ""), "method": request.method,
                    "path": path, "status": status_code})


class V1:
    """Mix into every /api/v1/ view (first in the bases)."""

    problem_json = True
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [permissions.AllowAny]
    throttle_classes = THROTTLES

    def perform_authentication(self, request):
        # A refused key counts against the caller's address like a call without a key, so
        # guessing keys from one address is limited too (ASVS 2.2.1).
        try:
            super().perform_authentication(request)
        except exceptions.AuthenticationFailed:
            throttle = KeylessAddressThrottle()
            if not throttle.allow_request(request, self):
                self.throttled(request, throttle.wait())
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        audit_call(request, response.status_code)
        return as_problem_json(response)

    def handle_exception(self, exc):
        try:
            return super().handle_exception(exc)
        except Exception:
            # An unexpected error (a 500): the call is still on the record.
            try:
                audit_call(self.request, 500)
            except Exception:  # the original error matters more
                log.exception("Could not audit a failed API call")
            raise


class ScopedV1(V1):
    """A view for API clients only: set `required_scope` (services.api.scopes.Scope)."""

    permission_classes = [HasScope]
    required_scope: str | None = None
