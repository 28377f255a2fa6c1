"""The national portal (public schema): the platform's front door."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .addresses import site_url
from .models import Tenant


def portal_home(request: HttpRequest) -> HttpResponse:
    """Active tenants grouped by region, municipalities under their region."""
    active = (
        Tenant.objects.launched().active().select_related("parent").prefetch_related("domains")
    )
    regions: dict[int, dict[str, Any]] = {}
    orphans: list[dict[str, Any]] = []
    for tenant in sorted(active, key=lambda t: (t.kind != Tenant.Kind.REGION, t.name)):
        entry: dict[str, Any] = {"tenant": tenant, "url": _url(tenant)}
        if tenant.kind == Tenant.Kind.REGION:
            regions[tenant.pk] = {**entry, "municipalities": []}
        elif tenant.parent_id in regions:
            regions[tenant.parent_id]["municipalities"].append(entry)
        else:
            orphans.append(entry)  # municipality of a suspended region: still reachable
    return render(request, "tenants/portal_home.html",
                  {"regions": list(regions.values()), "orphans": orphans})


def _url(tenant: Tenant) -> str | None:
    domains = [d for d in tenant.domains.all() if d.is_primary] or list(tenant.domains.all())
    return site_url(domains[0].domain) + "/" if domains else None
