"""The "Assessment" menu item and its admin pages (services/assessment/views.py)."""

from django.contrib.auth.models import Permission
from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from . import views, workflow

urlpatterns = [
    path("", views.index, name="index"),
    path("open/", views.open_round, name="open"),
    path("<int:number>/", views.round_detail, name="round"),
    path("<int:number>/report/", views.report, name="report"),
    path("<int:number>/<slug:dimension>/", views.questionnaire, name="questionnaire"),
    path("<int:number>/step/<slug:name>/", views.step, name="step"),
]


@hooks.register("register_admin_urls")
def assessment_urls():
    return [path("assessment/", include((urlpatterns, "assessment"), namespace="assessment"))]


class AssessmentMenuItem(MenuItem):
    def is_shown(self, request):
        return workflow.may_answer(request.user) or workflow.may_approve(request.user)


@hooks.register("register_admin_menu_item")
def assessment_menu_item():
    return AssessmentMenuItem(_("Assessment"), reverse("assessment:index"), name="assessment",
                              icon_name="tasks", order=270)


@hooks.register("register_permissions")
def assessment_permissions():
    """Offers "Can change assessment round" in Settings → Groups: staff who answer and submit the
    questionnaire without being administrators (approving stays with administrators)."""
    return Permission.objects.filter(content_type__app_label="assessment",
                                     codename="change_round")
