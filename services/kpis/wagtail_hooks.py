"""Performance («Показатели») in the tenant's Wagtail admin menu: the KPI dashboard
(views.py says who sees it), and "Can view KPI snapshot" offered under Settings → Groups."""

from django.contrib.auth.models import Permission
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from . import views


class PerformanceMenuItem(MenuItem):
    def is_shown(self, request):
        return views.may_see(request.user)


@hooks.register("register_admin_urls")
def urls():
    return [path("performance/", views.performance, name="kpis_performance")]


@hooks.register("register_admin_menu_item")
def menu_item():
    return PerformanceMenuItem(_("Performance"), reverse("kpis_performance"),
                               name="performance", icon_name="tasks", order=260)


@hooks.register("register_permissions")
def permissions():
    return Permission.objects.filter(content_type__app_label="kpis",
                                     codename="view_kpisnapshot")
