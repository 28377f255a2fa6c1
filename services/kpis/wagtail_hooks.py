"""The KPIs in Wagtail: Performance («Показатели») in the tenant's admin menu, the KPI dashboard
(views.py says who sees it), "Can view KPI snapshot" offered under Settings → Groups; and
counting views of service pages for the funnel (services/kpis/counters.py) around Wagtail's
serve: after the view restrictions let the page through and it rendered, one INCR in Redis and
no database query."""

from django.urls import path
from wagtail import hooks

from cms.models import ServicePage

from . import views
from .counters import is_counted_view, record_view


@hooks.register("register_admin_viewset")
def performance_section():
    return views.section.routes([path("", views.performance, name="index")])


@hooks.register("on_serve_page")
def count_service_page_views(serve_page):
    def serve_and_count(page, request, args, kwargs):
        response = serve_page(page, request, args, kwargs)
        if isinstance(page, ServicePage) and is_counted_view(request, response):
            record_view(page.pk)
        return response

    return serve_and_count
