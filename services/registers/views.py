"""Registers in Wagtail's admin: the Register snippet (fields as blocks, no JSON), its record
count and last import shown on the edit page, and the "Import records (CSV)" screen linked
from the listing and the edit page. Importing needs the permission to change registers; the
work is done in services/registers/service.py, which refuses a bad file as a whole."""

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList, Panel
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.widgets.button import Button
from wagtail.snippets.views.snippets import EditView, IndexView, SnippetViewSet

from cms.viewsets import AddLabelMixin

from ..cases import query
from ..forms.models import services_looking_up
from . import service as registers
from .models import Register

can_change = permission_required("services.change_register", raise_exception=True)
SHOWN_ERRORS = 200


def import_url(register):
    return reverse("services_register_import", args=[register.pk])


def _can_change(user):
    return user.has_perm("services.change_register")


class RegisterForm(WagtailAdminModelForm):
    """The code is what rules read (registers.<code>....): fixed once the register exists."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "code" in self.fields:
            self.fields["code"].disabled = True


class RegisterStatusPanel(Panel):
    """Read-only: how many records the register holds, when they were last imported, and the
    link to import a new file."""

    class BoundPanel(Panel.BoundPanel):
        template_name = "services/admin/register_status.html"

        def is_shown(self):
            return bool(self.instance and self.instance.pk)

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context.update(register=self.instance, import_url=import_url(self.instance),
                           imported_by=query.display_name(self.instance.imported_by),
                           can_import=_can_change(self.request.user))
            return context


class RegisterIndexView(IndexView):
    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if _can_change(self.request.user):
            buttons.append(MenuItem(_("Import records (CSV)"), url=import_url(instance),
                                    icon_name="upload", priority=15))
        return buttons


class RegisterEditView(EditView):
    @cached_property
    def header_more_buttons(self):
        buttons = [*super().header_more_buttons]
        if _can_change(self.request.user):
            buttons.append(Button(_("Import records (CSV)"), url=import_url(self.object),
                                  icon_name="upload", priority=5))
        return buttons


class RegisterViewSet(AddLabelMixin, SnippetViewSet):
    model = Register
    add_item_label = gettext_lazy("Add register")
    icon = "table"
    menu_label = gettext_lazy("Registers")
    menu_order = 255
    add_to_admin_menu = True
    list_display = ["name", "code", "key_kind", "record_count", "imported_at"]
    index_view_class = RegisterIndexView
    edit_view_class = RegisterEditView
    edit_handler = ObjectList([
        FieldPanel("name"), FieldPanel("code"), FieldPanel("key_kind"),
        FieldPanel("description"), FieldPanel("fields"),
        RegisterStatusPanel(heading=gettext_lazy("Records"))], base_form_class=RegisterForm)


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "UTF-8, comma or semicolon separated, at most %(size)s.") % {
                "size": filesizeformat(registers.MAX_BYTES)}


@never_cache
@can_change
def register_import(request, pk):
    """Replace a register's records with a CSV file: every bad line listed, or all
    imported."""
    register = get_object_or_404(Register.objects.select_related("imported_by"), pk=pk)
    form = ImportForm(request.POST or None, request.FILES or None)
    refused = None
    if request.method == "POST" and form.is_valid():
        try:
            result = registers.import_csv(register, form.cleaned_data["file"],
                                          user=request.user)
        except registers.ImportRefused as exc:
            refused = exc
        else:
            messages.success(request, _(
                "%(register)s: %(count)s records imported (they replace the %(replaced)s "
                "there were).") % {"register": register, "count": f"{result.count:,}",
                                   "replaced": f"{result.replaced:,}"})
            return HttpResponseRedirect(import_url(register))
    edit_url = reverse("wagtailsnippets_services_register:edit", args=[register.pk])
    shown = refused.errors[:SHOWN_ERRORS] if refused else []
    return render(request, "services/admin/register_import.html", {
        "register": register, "form": form, "errors": shown,
        "bad_lines": refused.bad_lines if refused else 0,
        "more": (max(refused.bad_lines, len(refused.errors)) - len(shown)) if refused else 0,
        "columns": ["key", *(f["name"] for f in register.declared_fields)],
        "fields": register.declared_fields,
        "imported_by": query.display_name(register.imported_by),
        "max_rows": f"{registers.MAX_ROWS:,}",
        "edit_url": edit_url,
        "breadcrumbs_items": [
            {"url": reverse("wagtailadmin_home"), "label": _("Home")},
            {"url": reverse("wagtailsnippets_services_register:list"), "label": _("Registers")},
            {"url": edit_url, "label": str(register)},
            {"url": "", "label": _("Import records (CSV)")},
        ],
        "header_title": _("Import records: %(register)s") % {"register": register},
        "header_icon": "upload",
    })


def refuse_deleting_used(request, instances):
    """Keep registers a service looks up: its rules would stop deciding. Returns a redirect
    with the reason, or None to let the deletion go on."""
    for register in instances:
        if not isinstance(register, Register):
            continue
        using = services_looking_up(register.code)
        if using:
            messages.error(request, _(
                "“%(register)s” cannot be deleted: the online service(s) %(services)s look it "
                "up. Remove the register lookup from them first.") % {
                    "register": register, "services": ", ".join(f"“{s}”" for s in using)})
            return HttpResponseRedirect(reverse("wagtailsnippets_services_register:list"))
    return None
