"""/api/v1/ on every tenant host (dgbox/urls_tenant.py includes it)."""

from django.urls import path, re_path

from . import applications, cases, views

app_name = "api-v1"

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
]
