"""URLs of the base domain (public schema): the national portal, its catalogue API and the
operator console."""

from django.urls import include, path

from dgbox.metrics import views as metrics
from tenants import views
from tenants.catalogue import api as catalogue_api
from tenants.catalogue import views as catalogue
from tenants.console import assessment as console_assessment
from tenants.console import kpis, manage
from tenants.console import views as operator
from tenants.staffauth import views as staffauth
from tenants.staffauth.surfaces import OPERATOR

SURFACE = {"surface": OPERATOR}

# Error pages: docs in dgbox/errors.py (404 and 500 are Django's handlers on 404.html, 500.html).
handler400 = "dgbox.errors.bad_request"

urlpatterns = [
    path("", views.portal_home, name="portal-home"),
    # The national catalogue: the service finder and its API (tenants/catalogue/).
    path("services/", catalogue.service_finder, name="service-finder"),
    path("", include("tenants.catalogue.api_urls")),
    path("api/v1/openapi.json", catalogue_api.NationalOpenApi.as_view(),
         name="national-openapi"),
    path("operator/", operator.home, name="operator-home"),
    path("operator/login/", operator.LoginView.as_view(), name="operator-login"),
    path("operator/logout/", operator.LogoutView.as_view(), name="operator-logout"),
    path("operator/password/<uidb64>/<token>/", operator.SetPasswordView.as_view(),
         name="operator-set-password"),
    path("operator/two-factor/", staffauth.manage, SURFACE, name=OPERATOR.manage),
    path("operator/two-factor/verify/", staffauth.verify, SURFACE, name=OPERATOR.verify),
    path("operator/two-factor/add/", staffauth.enrol, SURFACE, name=OPERATOR.enrol),
    path("operator/sessions/", staffauth.session_list, SURFACE, name=OPERATOR.sessions),
    path("operator/launch/", manage.launch, name="operator-launch"),
    path("operator/tenants/<slug:slug>/", operator.tenant_detail, name="operator-tenant"),
    # KPIs by level (tenants/console/kpis.py): before the tenant actions' catch-all.
    path("operator/kpis/", kpis.dashboard, name="operator-kpis"),
    path("operator/kpis/cost-model/", kpis.cost_models, name="operator-cost-models"),
    path("operator/tenants/<slug:slug>/kpis/", kpis.tenant_kpis, name="operator-tenant-kpis"),
    path("operator/tenants/<slug:slug>/population/", kpis.population,
         name="operator-tenant-population"),
    path("operator/tenants/<slug:slug>/<slug:action>/", manage.tenant_action,
         name="operator-tenant-action"),
    path("operator/rollouts/", operator.rollout_list, name="operator-rollouts"),
    path("operator/rollouts/<int:pk>/", operator.rollout_detail, name="operator-rollout"),
    path("operator/rollouts/<int:pk>/progress.json", manage.rollout_progress,
         name="operator-rollout-progress"),
    path("operator/rollouts/<int:pk>/halt/", manage.rollout_halt, name="operator-rollout-halt"),
    path("operator/rollouts/<int:pk>/resume/", manage.rollout_resume,
         name="operator-rollout-resume"),
    path("operator/usage.csv", operator.usage_csv, name="operator-usage-csv"),
    path("operator/audit/", operator.platform_audit_log, name="operator-audit"),
    path("operator/assessment/", console_assessment.comparison, name="operator-assessment"),
    # Prometheus metrics: on this host only, never a tenant's (dgbox/metrics/views.py).
    path("metrics", metrics.metrics, name="metrics"),
]
