"""The open content API of a tenant site: Wagtail's API v2 at /api/v2/.

Government as a platform: anyone may read a tenant's published services, guides, news and
offices as JSON (`/api/v2/pages/?type=cms.ServicePage&fields=*`). Only live, public pages of
the requesting site are served, read from that tenant's schema; drafts, private pages, staff
data and cases are never exposed. Fields per page type are the models' `api_fields`.
Calls are counted per tenant for usage metering (tenants/metering.py).
"""

from wagtail.api.v2.router import WagtailAPIRouter
from wagtail.api.v2.views import PagesAPIViewSet


class PublicPagesAPIViewSet(PagesAPIViewSet):
    """Pages endpoint; `?locale=ru|en` filters by language (Wagtail's own filter)."""

    name = "pages"


api_router = WagtailAPIRouter("wagtailapi")
api_router.register_endpoint("pages", PublicPagesAPIViewSet)
