"""Admin for online services: the form builder (a snippet), and a simple case list with an
authorised file view. (The staff inbox with workflows is issue #5.)"""

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
        path("cases/<int:pk>/", admin_views.case_detail, name="services_case"),
        path("cases/files/<uuid:pk>/", admin_views.case_file, name="services_case_file"),
    ]


class CasesMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("services.view_case")


@hooks.register("register_admin_menu_item")
def cases_menu_item():
    return CasesMenuItem(_("Cases"), reverse("services_cases"), icon_name="folder-open-inverse",
                         order=260)
