"""The KPIs in Wagtail: Performance («Показатели») in the tenant's admin menu, the KPI dashboard
(views.py says who sees it), "Can view KPI snapshot" offered under Settings → Groups; and
counting views of service pages for the funnel (services/kpis/counters.py) around Wagtail's
serve: after the view restrictions let the page through and it rendered, one INCR in Redis and
no database query."""

from django.contrib.auth.models import Permission
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from cms.models import ServicePage

from . import views
from .counters import is_counted_view, record_view


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


@hooks.register("on_serve_page")
def count_service_page_views(serve_page):
    def serve_and_count(page, request, args, kwargs):
        response = serve_page(page, request, args, kwargs)
        if isinstance(page, ServicePage) and is_counted_view(request, response):
            record_view(page.pk)
        return response

    return serve_and_count
