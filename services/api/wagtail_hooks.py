"""Settings → API clients in the tenant's admin, shown to administrators only
(services/api/admin_views.py)."""

from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem

from . import admin_views as views

urlpatterns = [
    path("", views.index, name="index"),
    path("add/", views.add, name="add"),
    path("<int:pk>/", views.edit, name="edit"),
    path("<int:pk>/deactivate/", views.deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", views.reactivate, name="reactivate"),
    path("<int:pk>/keys/issue/", views.issue, name="issue"),
    path("<int:pk>/keys/<int:key_pk>/rotate/", views.rotate, name="rotate"),
    path("<int:pk>/keys/<int:key_pk>/revoke/", views.revoke, name="revoke"),
]


@hooks.register("register_admin_urls")
def api_client_urls():
    return [path("api-clients/", include((urlpatterns, "api_clients"), namespace="api_clients"))]


class ApiClientsMenuItem(MenuItem):
    def is_shown(self, request):
        return views.is_administrator(request.user)


@hooks.register("register_settings_menu_item")
def api_clients_menu_item():
    # After "Sign-in lockouts" (602), before the audit log (900).
    return ApiClientsMenuItem(_("API clients"), reverse("api_clients:index"),
                              name="api-clients", icon_name="key", order=610)
