"""/api/v1/ on every tenant host (dgbox/urls_tenant.py includes it)."""

from django.urls import path

from . import views

app_name = "api-v1"

urlpatterns = [
    path("whoami", views.WhoAmI.as_view(), name="whoami"),
]
