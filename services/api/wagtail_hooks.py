"""Settings → API clients in the tenant's admin, shown to administrators only
(services/api/admin_views.py)."""

from django.urls import path
from wagtail import hooks

from . import admin_views as views


@hooks.register("register_admin_viewset")
def api_clients_section():
    return views.section.routes([
        path("", views.index, name="index"),
        path("add/", views.add, name="add"),
        path("<int:pk>/", views.edit, name="edit"),
        path("<int:pk>/deactivate/", views.deactivate, name="deactivate"),
        path("<int:pk>/reactivate/", views.reactivate, name="reactivate"),
        path("<int:pk>/keys/issue/", views.issue, name="issue"),
        path("<int:pk>/keys/<int:key_pk>/rotate/", views.rotate, name="rotate"),
        path("<int:pk>/keys/<int:key_pk>/revoke/", views.revoke, name="revoke"),
    ])
