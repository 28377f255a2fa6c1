"""The open content API of a tenant site: Wagtail's API v2 at /api/v2/.

Government as a platform: anyone may read a tenant's published services, guides, news and
offices as JSON (`/api/v2/pages/?type=cms.ServicePage&fields=*`). Only live, public pages of
the requesting site are served, read from that tenant's schema; drafts, private pages, staff
data and cases are never exposed. Fields per page type are the models' `api_fields`.
Calls are counted per tenant for usage metering (tenants/metering/).

Limits: each client address (`infra.clientip.client_address`) may make DGBOX_API_RATE calls,
and each tenant serve its kind's DGBOX_TENANT_API_RATES in all, whoever calls, so a tenant
whose API is saturated answers 429 while the other tenants' APIs stay fast (tenants/limits.py:
atomic counters in Redis; without Redis the limits let calls through; cms/throttles.py). A
refusal is `application/problem+json` with `Retry-After`.
"""

from django.utils.translation import gettext as _
from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.utils import BadRequestError
from wagtail.api.v2.views import PagesAPIViewSet

#: Child rows each page type's `api_fields` list, fetched for a whole page of results at once.
CHILD_ROWS = {"ServicePage": ["channels"], "OfficePage": ["hours", "exceptions"],
              "StepByStepPage": ["steps"]}


class PublicPagesAPIViewSet(PagesAPIViewSet):
    """Pages endpoint; `?locale=ru|en` filters by language (Wagtail's own filter). Lists cost
    the same few queries whatever their length: locales joined, child rows prefetched."""

    name = "pages"

    def check_query_parameters(self, queryset):
        super().check_query_parameters(queryset)
        # Wagtail passes it on unchecked and the search backend raises ValueError (a 500).
        operator = self.request.GET.get("search_operator")
        if operator is not None and operator not in ("and", "or"):
            raise BadRequestError("search_operator must be 'and' or 'or'")

    def find_object(self, queryset, request):
        # Wagtail hands `?id=` to the database unchecked: a blank or non-numeric id is a
        # ValueError there (a 500). Ids are positive whole numbers of at most 18 digits.
        if "html_path" not in request.GET and "id" in request.GET:
            ident = request.GET["id"]
            if not (ident.isascii() and ident.isdigit() and 0 < len(ident) <= 18):
                raise BadRequestError(_("id must be a page's number, for example 3"))
        return super().find_object(queryset, request)

    def get_queryset(self):
        queryset = super().get_queryset().select_related("locale")
        return queryset.prefetch_related(*CHILD_ROWS.get(queryset.model.__name__, []))


api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PublicPagesAPIViewSet)
