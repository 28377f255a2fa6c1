"""Sign-in lockouts: the tenant admin's page listing the accounts and client addresses locked
out of this site's admin (too many failed sign-ins), each with an "Unlock" button
(tenants/lockouts.py; only this tenant's, as its schema holds only its own)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from wagtail.admin import messages

from tenants import lockouts

#: Who may see and lift lockouts: whoever may change user accounts (administrators).
PERMISSION = "auth.change_user"


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_lockouts(request):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    if request.method == "POST":
        kind, value = request.POST.get("kind"), request.POST.get("value", "")[:255]
        if kind in ("account", "address") and value:
            lockouts.unlock(**{"username" if kind == "account" else "address": value})
            messages.success(request, _("%(who)s can sign in again.") % {"who": value})
        return HttpResponseRedirect(reverse("cms_sign_in_lockouts"))
    return TemplateResponse(request, "cms/admin/lockouts.html", {
        "lockouts": lockouts.lockouts(),
        "header_title": _("Sign-in lockouts"),
        "header_icon": "lock",
        "breadcrumbs_items": [
            {"url": reverse("wagtailadmin_home"), "label": _("Home")},
            {"url": "", "label": _("Sign-in lockouts")},
        ],
    })
