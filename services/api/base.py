"""What every /api/v1/ view shares: key authentication, problem JSON errors, the throttles."""

from rest_framework import permissions

from .auth import ApiKeyAuthentication, HasScope
from .problems import as_problem_json


class V1:
    """Mix into every /api/v1/ view (first in the bases)."""

    problem_json = True
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [permissions.AllowAny]

    def finalize_response(self, request, response, *args, **kwargs):
        return as_problem_json(super().finalize_response(request, response, *args, **kwargs))


class ScopedV1(V1):
    """A view for API clients only: set `required_scope` (services.api.scopes.Scope)."""

    permission_classes = [HasScope]
    required_scope: str | None = None
