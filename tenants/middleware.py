"""Routes each request to its tenant's schema by host name.

Unknown hosts get the platform's 404 page; tenants that are not active get a maintenance
(suspended, provisioning) or "no longer available" (archived) page instead of their site.
"""

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.shortcuts import render
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from .models import Domain, Tenant


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request, request.META.get("HTTP_HOST", ""))
        try:
            tenant = self.get_tenant(Domain, hostname)
        except Domain.DoesNotExist:
            return self._not_found(request, hostname)

        tenant.domain_url = hostname
        request.tenant = tenant
        if tenant.schema_name != get_public_schema_name() and not tenant.is_serving:
            return self._unavailable(request, tenant)
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None

    @staticmethod
    def _not_found(request, hostname):
        return render(request, "tenants/unknown_host.html", {"hostname": hostname}, status=404)

    @staticmethod
    def _unavailable(request, tenant):
        if tenant.status == Tenant.Status.ARCHIVED:
            return render(request, "tenants/archived.html", {"tenant": tenant}, status=410)
        response = render(request, "tenants/maintenance.html", {"tenant": tenant}, status=503)
        response["Retry-After"] = "3600"
        response["Cache-Control"] = "no-store"
        return response
