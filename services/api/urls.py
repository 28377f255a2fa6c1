"""/api/v1/ on every tenant host (dgbox/urls_tenant.py includes it)."""

from django.urls import path, re_path

from . import applications, views

app_name = "api-v1"

urlpatterns = [
    path("whoami", views.WhoAmI.as_view(), name="whoami"),
    # A service's slug is its page's, Cyrillic included (services/applications/urls.py).
    re_path(r"^services/(?P<slug>[-\w]+)/applications$",
            applications.SubmitApplication.as_view(), name="submit-application"),
    path("applications", applications.ListApplications.as_view(), name="applications"),
    path("applications/<str:reference>", applications.ReadApplication.as_view(),
         name="application"),
]
