"""Admin for online services: workflows and letters (snippets), the read-only list of online
services (each form is edited on its service page, cms.ServicePage's "Online application"
tab), and the staff case screens (services/inbox.py): the inbox, the case detail with its
next actions, and the authorised file view."""

import json

from django.contrib import messages
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import NON_FIELD_ERRORS
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, ObjectList, Panel, TabbedInterface
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.models import Page, Revision
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from cms.viewsets import AddLabelMixin

from .cases import inbox
from .forms import views as form_views
from .models import DecisionLetterTemplate, OnlineService, Workflow
from .registers import views as register_views
from .workflows import blocks as workflow_blocks
from .workflows import diagram as workflow_diagram
from .workflows import spec as workflowspec

# --- Online services: edited on their service pages; here a read-only list, the "apply on
# behalf" permission for the group editor, and no deleting a page whose form has cases.


@hooks.register("register_admin_urls")
def online_service_urls():
    return [path("online-services/", form_views.online_service_list,
                 name="services_online_services"),
            path("online-services/results/", form_views.online_service_list_results,
                 name="services_online_services_results")]


@hooks.register("register_admin_menu_item")
def online_services_menu_item():
    return MenuItem(_("Online services"), reverse("services_online_services"), icon_name="form",
                    order=250)


@hooks.register("register_permissions")
def apply_on_behalf_permission():
    return Permission.objects.filter(content_type__app_label="services",
                                     codename="apply_on_behalf")


def _refuse_deleting(request, used):
    messages.error(request, _(
        "“%(pages)s” cannot be deleted: its online form has applications, which keep the "
        "form they were made with. Unpublish the page, or close the form to new "
        "applications, instead.") % {"pages": "”, “".join(used)})


def _pages_with_cases(pages):
    """The titles of the service pages among `pages` whose online form has cases."""
    return sorted({service.page.title for service in OnlineService.objects.filter(
        page_id__in=pages.values("id"), cases__isnull=False).select_related("page")})


@hooks.register("before_delete_page")
def refuse_deleting_pages_with_cases(request, page):
    used = _pages_with_cases(Page.objects.descendant_of(page, inclusive=True))
    if used:
        _refuse_deleting(request, used)
        return redirect("wagtailadmin_explore", page.get_parent().id)
    return None


@hooks.register("before_bulk_action")
def refuse_bulk_deleting_pages_with_cases(request, action_type, objects, action_class_instance):
    if action_type != "delete" or not objects or not isinstance(objects[0], Page):
        return None
    pages = Page.objects.none()
    for page in objects:
        pages |= Page.objects.descendant_of(page, inclusive=True)
    used = _pages_with_cases(pages)
    if used:
        _refuse_deleting(request, used)
        return redirect(get_valid_next_url_from_request(request)
                        or reverse("wagtailadmin_explore_root"))
    return None


@hooks.register("before_delete_snippet")
def refuse_deleting_workflows_in_use(request, instances):
    """Keep a workflow an online form names, published or in a page's draft revision: a
    draft naming a deleted workflow could no longer be opened."""
    for workflow in instances:
        if not isinstance(workflow, Workflow):
            continue
        drafted = Revision.page_revisions.filter(
            content__contains={"online_services": [{"workflow": workflow.pk}]})
        page_ids = {int(pk) for pk in drafted.values_list("object_id", flat=True)}
        page_ids |= set(OnlineService.objects.filter(workflow=workflow)
                        .values_list("page_id", flat=True))
        pages = sorted(Page.objects.filter(pk__in=page_ids).values_list("title", flat=True))
        if pages:
            messages.error(request, _(
                "“%(workflow)s” cannot be deleted: the online form of %(pages)s uses it "
                "(published or in a draft). Choose another workflow there first.") % {
                    "workflow": workflow, "pages": ", ".join(f"“{p}”" for p in pages)})
            return redirect("wagtailsnippets_services_workflow:list")
    return None


class WorkflowForm(WagtailAdminModelForm):
    """The workflow editor's form. A block that is itself wrong (an empty name, a bad code) is
    left out of what the model checks, so the whole-workflow messages (Workflow.clean) would be
    about a half-read workflow: they wait until the blocks' own errors are fixed. A new
    workflow starts as a copy of the standard one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and not self.is_bound:
            data = workflow_blocks.stream_data_from_definition(workflowspec.DEFAULT)
            for name in ("states", "transitions"):
                self.initial[name] = self.fields[name].block.to_python(data[name])

    def _post_clean(self):
        super()._post_clean()
        if {"states", "transitions"} & set(self._errors):
            self._errors.pop(NON_FIELD_ERRORS, None)
        elif NON_FIELD_ERRORS in self._errors:
            # The whole-workflow messages stay listed at the top; each is also shown on the
            # state or step (and the part of it) where it was made.
            for name, error in workflow_blocks.block_errors(
                    self.instance.states, self.instance.transitions).items():
                self._errors[name] = self.error_class([error])


class WorkflowOverviewPanel(Panel):
    """Read-only overview of the saved workflow: its states and the steps between them."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "services/admin/workflow_overview.html"

        def is_shown(self):
            return bool(self.instance and self.instance.pk)

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            version = self.instance.versions.order_by("-number").first()
            definition = version.definition if version else self.instance.definition
            groups = Group.objects.filter(
                name__in=[t.get("group") for t in definition.get("transitions") or []]
            ).values_list("name", flat=True)
            language = (get_language() or "ru").split("-")[0]
            context.update(workflow_blocks.overview(definition, language, groups),
                           version=version,
                           diagram=workflow_diagram.state_diagram(definition, language),
                           diagram_limit=workflow_diagram.MAX_STATES,
                           definition_json=json.dumps(definition, ensure_ascii=False, indent=2))
            return context


class WorkflowViewSet(AddLabelMixin, SnippetViewSet):
    model = Workflow
    add_item_label = _("Add case workflow")
    icon = "tasks"
    menu_label = _("Case workflows")
    add_to_settings_menu = True
    list_display = ["name", "updated_at"]
    edit_handler = TabbedInterface([
        ObjectList([FieldPanel("name"), FieldPanel("states"), FieldPanel("transitions")],
                   heading=_("Workflow")),
        ObjectList([WorkflowOverviewPanel(heading=_("Saved workflow"))], heading=_("Overview")),
    ], base_form_class=WorkflowForm)


class LetterTemplateViewSet(AddLabelMixin, SnippetViewSet):
    model = DecisionLetterTemplate
    add_item_label = _("Add decision letter template")
    icon = "doc-full"
    menu_label = _("Decision letters")
    add_to_settings_menu = True
    list_display = ["__str__", "title"]


register_snippet(WorkflowViewSet)
register_snippet(LetterTemplateViewSet)


@hooks.register("insert_global_admin_css")
def admin_css():
    return format_html('<link rel="stylesheet" href="{}">',
                       static("services/admin/admin.css"))


@hooks.register("register_admin_urls")
def case_urls():
    return [
        path("cases/", inbox.case_list, name="services_cases"),
        path("cases/results/", inbox.case_list_results, name="services_cases_results"),
        path("cases/assign/", inbox.bulk_assign, name="services_cases_assign"),
        path("cases/search/", inbox.case_search, name="services_cases_search"),
        path("cases/<int:pk>/", inbox.case_detail, name="services_case"),
        path("cases/<int:pk>/steps/<slug:code>/", inbox.case_transition,
             name="services_case_transition"),
        path("cases/<int:pk>/notes/", inbox.case_note, name="services_case_note"),
        path("cases/<int:pk>/assign/", inbox.case_assign, name="services_case_assign"),
        path("cases/<int:pk>/decisions/<int:decision_pk>/review/",
             inbox.decision_review, name="services_case_decision_review"),
        path("cases/<int:pk>/export/", inbox.case_export, name="services_case_export"),
        path("cases/files/<uuid:pk>/", inbox.case_file, name="services_case_file"),
    ]


class CasesMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm("services.view_case")


@hooks.register("register_admin_menu_item")
def cases_menu_item():
    return CasesMenuItem(_("Cases"), reverse("services_cases"), icon_name="folder-open-inverse",
                         order=260)


# --- Registers (services/registers/views.py): the snippet, its CSV import, and no deleting a
# register a service looks up.

register_snippet(register_views.RegisterViewSet)
hooks.register("before_delete_snippet", register_views.refuse_deleting_used)


@hooks.register("register_admin_urls")
def register_urls():
    return [path("registers/<int:pk>/import/", register_views.register_import,
                 name="services_register_import")]
