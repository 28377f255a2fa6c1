"""The national portal's service finder, `/services/` on the base domain: a plain GET form
(works without JavaScript), results linking to each tenant's service page, a page at a time.
A fixed number of queries whatever the size of the fleet: the life events and the regions for
the filters, the search (exists, count, one page with its tenants)."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from tenants.models import LifeEvent, Tenant

from .query import FilterError, Filters, clean_text, matching, page_of

PAGE_SIZE = 20


def _one(request: HttpRequest, name: str, limit: int = 64) -> str:
    return request.GET.get(name, "").replace("\x00", "").strip()[:limit]


def service_finder(request: HttpRequest) -> HttpResponse:
    language = "en" if (get_language() or "ru").startswith("en") else "ru"
    filters = Filters(q=clean_text(request.GET.get("q", "")),
                      life_event=_one(request, "life_event"),
                      territory=_one(request, "territory"),
                      online=True if request.GET.get("online") == "1" else None)
    searched = any([filters.q, filters.life_event, filters.territory, filters.online])
    error = ""
    page = None
    count_exact = True
    if searched:
        try:
            found, query = matching(filters)
            page, count_exact = page_of(found, query, request.GET.get("page"), PAGE_SIZE)
        except FilterError as err:
            error = err.messages[0]
    params = {k: v for k, v in (("q", filters.q), ("life_event", filters.life_event),
                                ("territory", filters.territory),
                                ("online", "1" if filters.online else "")) if v}
    context: dict[str, Any] = {
        "filters": filters, "searched": searched, "error": error, "page": page,
        "count_exact": count_exact,
        "query_string": urlencode(params),
        "life_events": [(e.code, e.name(language)) for e in LifeEvent.objects.all()],
        "regions": list(Tenant.objects.launched().active().filter(kind=Tenant.Kind.REGION)
                        .order_by("name").values_list("slug", "name")),
        "language": language,
    }
    return render(request, "tenants/service_finder.html", context,
                  status=400 if error else 200)
