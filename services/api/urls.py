"""/api/v1/ on every tenant host (dgbox/urls_tenant.py includes it)."""

from django.urls import path, re_path

from ..webhooks import api as webhooks
from . import applications, cases, openapi, views
from .problems import NoSuchEndpoint
from .public import kpis
from .public import views as public

app_name = "api-v1"

#: A page's number: at most 18 digits (a longer one would overflow the database's bigint).
ID = r"(?P<id>[0-9]{1,18})"

urlpatterns = [
    path("whoami", views.WhoAmI.as_view(), name="whoami"),
    # Case work as the client's service account (cases.py).
    path("cases", cases.CaseList.as_view(), name="cases"),
    path("cases/<str:reference>", cases.CaseRead.as_view(), name="case"),
    path("cases/<str:reference>/transitions", cases.CaseTransition.as_view(),
         name="case-transitions"),
    path("cases/<str:reference>/notes", cases.CaseNotes.as_view(), name="case-notes"),
    path("cases/<str:reference>/files/<uuid:file_id>", cases.CaseFile.as_view(),
         name="case-file"),
    # A service's slug is its page's, Cyrillic included (services/applications/urls.py).
    re_path(r"^services/(?P<slug>[-\w]+)/applications$",
            applications.SubmitApplication.as_view(), name="submit-application"),
    path("applications", applications.ListApplications.as_view(), name="applications"),
    path("applications/<str:reference>", applications.ReadApplication.as_view(),
         name="application"),
    # A client's own webhook subscriptions (services/webhooks/api.py).
    path("webhooks/subscriptions", webhooks.SubscriptionList.as_view(),
         name="webhook-subscriptions"),
    re_path(rf"^webhooks/subscriptions/{ID}$", webhooks.SubscriptionDetail.as_view(),
            name="webhook-subscription"),
    re_path(rf"^webhooks/subscriptions/{ID}/rotate-secret$", webhooks.RotateSecret.as_view(),
            name="webhook-subscription-rotate-secret"),
    re_path(rf"^webhooks/subscriptions/{ID}/deliveries$", webhooks.DeliveryLog.as_view(),
            name="webhook-subscription-deliveries"),
    # The contract: the OpenAPI document and its reference page (services/api/openapi.py).
    path("openapi.json", openapi.OpenApiJson.as_view(), name="openapi-json"),
    path("openapi.yaml", openapi.OpenApiYaml.as_view(), name="openapi-yaml"),
    path("docs/", openapi.Reference.as_view(), name="docs"),
    # Public, read-only (services/api/public/): no key needed.
    path("services", public.ServiceList.as_view(), name="services"),
    re_path(rf"^services/{ID}$", public.ServiceDetail.as_view(), name="service"),
    path("offices", public.OfficeList.as_view(), name="offices"),
    re_path(rf"^offices/{ID}$", public.OfficeDetail.as_view(), name="office"),
    path("news", public.NewsList.as_view(), name="news"),
    re_path(rf"^news/{ID}$", public.NewsDetail.as_view(), name="news-item"),
    # The site's KPIs as open data, small numbers withheld (services/kpis/publication.py).
    path("kpis", kpis.KpiList.as_view(), name="kpis"),
]
# Keep last: any other path under /api/v1/ is a 404 problem (services/api/problems.py).
urlpatterns.append(re_path(r"^.*$", NoSuchEndpoint.as_view(), name="no-such-endpoint"))
