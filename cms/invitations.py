"""Invite staff member: the tenant admin's form for giving someone an account with roles in
plain words (tenants/staff.py creates the account and sends the one-time link)."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from wagtail.admin import messages

from tenants import staff

#: Who may invite: whoever may add users (administrators, and groups given that permission).
PERMISSION = "auth.add_user"


def role_choices():
    return [(role.code, role.label) for role in staff.roles()]


class InviteStaffForm(forms.Form):
    email = forms.EmailField(
        label=gettext_lazy("E-mail address"), max_length=254,
        help_text=gettext_lazy("The invitation goes here; they sign in with this address."),
        error_messages={"required": gettext_lazy("Enter their e-mail address."),
                        "invalid": gettext_lazy("Enter an e-mail address like "
                                                "name@example.ru.")})
    first_name = forms.CharField(
        label=gettext_lazy("First name"), max_length=150,
        error_messages={"required": gettext_lazy("Enter their first name.")})
    last_name = forms.CharField(
        label=gettext_lazy("Last name"), max_length=150,
        error_messages={"required": gettext_lazy("Enter their last name.")})
    roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles"), choices=role_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Choose at least one role from the list.")})


@never_cache
def invite_staff(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    form = InviteStaffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation = staff.invite_staff(
                email=data["email"], first_name=data["first_name"],
                last_name=data["last_name"], role_codes=data["roles"], invited_by=request.user)
        except staff.InvitationError as exc:
            form.add_error(None, exc)
        except OSError as exc:  # the mail server refused or could not be reached
            form.add_error(None, _(
                "The invitation could not be sent (%(error)s), so no account was made. Try "
                "again later or ask the platform operator about e-mail.") % {"error": exc})
        else:
            messages.success(request, _(
                "%(email)s is invited: they have an e-mail with a link to set their password "
                "(valid once). Roles: %(roles)s.") % {
                    "email": invitation.user.email,
                    "roles": ", ".join(str(dict(role_choices())[code]) for code in data["roles"])})
            return HttpResponseRedirect(reverse("wagtailusers_users:index"))
    chosen = form["roles"].value() or []
    return TemplateResponse(request, "cms/admin/invite_staff.html", {
        "form": form,
        "roles": [{"role": role, "checked": role.code in chosen,
                   "id": f"id_roles_{index}"} for index, role in enumerate(staff.roles())],
        "errors": [(form[name].auto_id if name in form.fields else "", message)
                   for name, messages_ in form.errors.items() for message in messages_],
        "header_title": _("Invite staff member"),
        "header_icon": "user",
        "breadcrumbs_items": [
            {"url": reverse("wagtailadmin_home"), "label": _("Home")},
            {"url": reverse("wagtailusers_users:index"), "label": _("Users")},
            {"url": "", "label": _("Invite staff member")},
        ],
    }, status=400 if form.errors else 200)
