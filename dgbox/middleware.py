"""Host-independent health probes, answered before the tenant middleware.

Load balancers and Kubernetes call these with the pod's IP as Host, which is no tenant's
domain, so they must not go through tenant routing.
"""

from django.db import connection
from django.http import JsonResponse


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
