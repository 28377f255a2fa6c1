"""Admin for online services: the form builder, workflows and letters (snippets), and the
staff case screens (services/admin_views.py): the inbox, the case detail with its next
actions, and the authorised file view."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from . import admin_views
from .models import DecisionLetterTemplate, OnlineService, Workflow


class OnlineServiceViewSet(SnippetViewSet):
    model = OnlineService
    icon = "form"
    menu_label = _("Online services")
    menu_order = 250
    add_to_admin_menu = True
    list_display = ["__str__", "slug", "accepting", "updated_at"]


register_snippet(OnlineServiceViewSet)


class WorkflowViewSet(SnippetViewSet):
    model = Workflow
    icon = "tasks"
    menu_label = _("Case workflows")
    add_to_settings_menu = True
    list_display = ["name", "updated_at"]


class LetterTemplateViewSet(SnippetViewSet):
    model = DecisionLetterTemplate
    icon = "doc-full"
    menu_label = _("Decision letters")
    add_to_settings_menu = True
    list_display = ["__str__", "title"]


register_snippet(WorkflowViewSet)
register_snippet(LetterTemplateViewSet)


@hooks.register("register_admin_urls")
def case_urls():
    return [
        path("cases/", admin_views.case_list, name="services_cases"),
        path("cases/results/", admin_views.case_list_results, name="services_cases_results"),
        path("cases/assign/", admin_views.bulk_assign, name="services_cases_assign"),
        path("cases/<int:pk>/", admin_views.case_detail, name="services_case"),
        path("cases/<int:pk>/steps/<slug:code>/", admin_views.case_transition,
             name="services_case_transition"),
        path("cases/<int:pk>/notes/", admin_views.case_note, name="services_case_note"),
        path("cases/<int:pk>/assign/", admin_views.case_assign, name="services_case_assign"),
        path("cases/<int:pk>/decisions/<int:decision_pk>/review/",
             admin_views.decision_review, name="services_case_decision_review"),
        path("cases/<int:pk>/export/", admin_views.case_export, name="services_case_export"),
        path("cases/files/<uuid:pk>/", admin_views.case_file, name="services_case_file"),
    ]


class CasesMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("services.view_case")


@hooks.register("register_admin_menu_item")
def cases_menu_item():
    return CasesMenuItem(_("Cases"), reverse("services_cases"), icon_name="folder-open-inverse",
                         order=260)
