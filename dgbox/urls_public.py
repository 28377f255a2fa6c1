"""URLs of the base domain (public schema): the national portal and the operator console."""

from django.urls import path

from tenants import views
from tenants.console import views as operator

# Error pages: docs in dgbox/errors.py (404 and 500 are Django's handlers on 404.html, 500.html).
handler400 = "dgbox.errors.bad_request"

urlpatterns = [
    path("", views.portal_home, name="portal-home"),
    path("operator/", operator.home, name="operator-home"),
    path("operator/login/", operator.LoginView.as_view(), name="operator-login"),
    path("operator/logout/", operator.LogoutView.as_view(), name="operator-logout"),
    path("operator/password/<uidb64>/<token>/", operator.SetPasswordView.as_view(),
         name="operator-set-password"),
    path("operator/tenants/<slug:slug>/", operator.tenant_detail, name="operator-tenant"),
    path("operator/rollouts/", operator.rollout_list, name="operator-rollouts"),
    path("operator/rollouts/<int:pk>/", operator.rollout_detail, name="operator-rollout"),
    path("operator/usage.csv", operator.usage_csv, name="operator-usage-csv"),
]
