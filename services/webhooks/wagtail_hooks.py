"""Settings → Webhooks in the tenant's admin, shown to administrators only (views.py)."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from . import views


class AdministratorsMenuItem(MenuItem):
    def is_shown(self, request):
        return bool(request.user.is_superuser)


@hooks.register("register_admin_urls")
def urls():
    return [
        path("webhooks/", views.index, name="webhooks_index"),
        path("webhooks/add/", views.create, name="webhooks_create"),
        path("webhooks/<int:pk>/", views.deliveries, name="webhooks_deliveries"),
        path("webhooks/<int:pk>/edit/", views.edit, name="webhooks_edit"),
        path("webhooks/<int:pk>/rotate/", views.rotate, name="webhooks_rotate"),
        path("webhooks/<int:pk>/delete/", views.delete, name="webhooks_delete"),
        path("webhooks/<int:pk>/enable/", views.enable, name="webhooks_enable"),
        path("webhooks/<int:pk>/replay/<int:delivery_pk>/", views.replay,
             name="webhooks_replay"),
    ]


@hooks.register("register_settings_menu_item")
def menu_item():
    return AdministratorsMenuItem(_("Webhooks"), reverse("webhooks_index"), name="webhooks",
                                  icon_name="link", order=910)
