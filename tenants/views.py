"""The national portal (public schema): the platform's front door."""

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .addresses import site_url
from .models import Tenant

#: Regions (or search results) per page: the page's cost stays the same at 5,000 tenants.
PAGE_SIZE = 25


def portal_home(request: HttpRequest) -> HttpResponse:
    """Active regions, a page at a time, each with its active municipalities; `q` finds
    regions and municipalities by name. A fixed number of queries whatever the size of the
    fleet: a count and a page of tenants (with their domains), and the page's municipalities."""
    query = request.GET.get("q", "").replace("\x00", "").strip()[:100]
    active = Tenant.objects.launched().active().prefetch_related("domains")
    if query:
        found = active.filter(name__icontains=query).order_by("name", "pk")
        page = _page(request, found)
        return render(request, "tenants/portal_home.html", {
            "query": query, "page": page, "found": [_entry(t) for t in page]})

    regions = active.filter(kind=Tenant.Kind.REGION).order_by("name", "pk")
    page = _page(request, regions)
    listed = {t.pk: {**_entry(t), "municipalities": []} for t in page}
    municipalities = active.filter(kind=Tenant.Kind.MUNICIPALITY, parent_id__in=list(listed))
    for tenant in municipalities.order_by("name", "pk"):
        listed[tenant.parent_id]["municipalities"].append(_entry(tenant))
    orphans: list[dict[str, Any]] = []
    if not page.has_next():  # municipalities of a suspended region: still reachable, last
        orphans = [_entry(t) for t in active.filter(kind=Tenant.Kind.MUNICIPALITY).exclude(
            parent__status=Tenant.Status.ACTIVE).order_by("name", "pk")]
    return render(request, "tenants/portal_home.html",
                  {"regions": list(listed.values()), "orphans": orphans, "page": page})


def _page(request: HttpRequest, tenants: Any) -> Page[Tenant]:
    # get_page() answers a missing, malformed or out-of-range number with a valid page.
    return Paginator(tenants, PAGE_SIZE).get_page(request.GET.get("page"))


def _entry(tenant: Tenant) -> dict[str, Any]:
    return {"tenant": tenant, "url": _url(tenant)}


def _url(tenant: Tenant) -> str | None:
    domains = [d for d in tenant.domains.all() if d.is_primary] or list(tenant.domains.all())
    return site_url(domains[0].domain) + "/" if domains else None
