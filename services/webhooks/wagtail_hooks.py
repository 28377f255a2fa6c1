"""Settings → Webhooks in the tenant's admin, shown to administrators only (views.py)."""

from django.urls import path
from wagtail import hooks

from . import views


@hooks.register("register_admin_viewset")
def webhooks_section():
    return views.section.routes([
        path("", views.index, name="index"),
        path("add/", views.create, name="create"),
        path("<int:pk>/", views.deliveries, name="deliveries"),
        path("<int:pk>/edit/", views.edit, name="edit"),
        path("<int:pk>/rotate/", views.rotate, name="rotate"),
        path("<int:pk>/delete/", views.delete, name="delete"),
        path("<int:pk>/enable/", views.enable, name="enable"),
        path("<int:pk>/replay/<int:delivery_pk>/", views.replay, name="replay"),
    ])
