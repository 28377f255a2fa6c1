"""The tenant's audit log in its Wagtail admin (Settings → Audit log), for its
administrators only: superusers, or a group given "Can view audit event" (editors,
moderators and case workers are not)."""

from typing import Any

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from .views import audit_log

PERMISSION = "audit.view_auditevent"


@never_cache
def admin_audit_log(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    return audit_log(request, "audit/admin_log.html", {})


class AuditMenuItem(MenuItem):
    def is_shown(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(PERMISSION))


def urls() -> list[URLPattern]:
    return [path("audit/", admin_audit_log, name="audit_log")]


def menu_item() -> MenuItem:
    return AuditMenuItem(_("Audit log"), reverse("audit_log"), name="audit-log",
                         icon_name="list-ul", order=900)


def permissions() -> QuerySet[Permission]:
    return Permission.objects.filter(content_type__app_label="audit",
                                     codename="view_auditevent")


def _register(name: str, fn: Any) -> None:
    hooks.register(name, fn)


_register("register_admin_urls", urls)
_register("register_settings_menu_item", menu_item)
_register("register_permissions", permissions)
