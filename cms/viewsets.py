"""Admin viewset helpers shared by the tenant apps (cms, services, notifications)."""

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import URLPattern, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet


class AddLabelMixin:
    """A snippet viewset that names its add button as a whole phrase.

    Wagtail writes the button as "Add %(model_name)s", which in Russian leaves the model's
    name in the nominative where the accusative belongs ("Добавить онлайн-услуга"). A phrase
    translated whole ("Добавить онлайн-услугу") reads right in every language.
    """

    #: e.g. _("Add online service"); None keeps Wagtail's own label.
    add_item_label = None

    def get_index_view_kwargs(self, **kwargs):
        view_kwargs = super().get_index_view_kwargs(**kwargs)
        if self.add_item_label:
            view_kwargs["add_item_label"] = self.add_item_label
        return view_kwargs


def administrators(user) -> bool:
    """Tenant administrators: active superusers."""
    return bool(user.is_active and user.is_superuser)


class AdminSection(ViewSet):
    """A section of the tenant's Wagtail admin made of plain function views (lists, forms,
    confirmation pages; no model viewset), registered through Wagtail's
    `register_admin_viewset` hook: its URLs under `url_prefix` in the namespace `name`, its
    menu item (in the main menu, or the Settings menu with `add_to_settings_menu`) shown only
    to whom `may_see`, and, when `permission` names one, the permission it offers under
    Settings → Groups. Its views are wrapped in `guard` (the same `may_see`, never cached) and
    framed by `page` (title, icon, breadcrumbs through the section's index, `no-store`).

    Built where its views are (they use it) with its routes given at registration::

        @hooks.register("register_admin_viewset")
        def section():
            return views.section.routes([path("", views.index, name="index"), ...])
    """

    #: Who may open the section and see its menu item, given `request.user`; by default
    #: the tenant's administrators.
    may_see: Callable[[Any], bool] = staticmethod(administrators)
    #: ("app_label", "codename") of the permission offered under Settings → Groups, or None.
    permission: tuple[str, str] | None = None
    urlpatterns: Sequence[URLPattern] = ()

    def routes(self, urlpatterns: Sequence[URLPattern]) -> "AdminSection":
        """The section with its URLs (the first one named "index", the menu item's)."""
        self.urlpatterns = list(urlpatterns)
        return self

    def get_urlpatterns(self):
        return list(self.urlpatterns)

    @cached_property
    def menu_url(self):
        return reverse(self.get_url_name("index"))

    @cached_property
    def menu_name(self):
        # The menu item's name (Wagtail's `data-*` hooks and tests find it by this), not a
        # slug of its translated label, which in Russian would be empty.
        return self.url_prefix

    @cached_property
    def menu_item_class(self):
        section = self

        class SectionMenuItem(MenuItem):
            def is_shown(self, request):
                return section.may_see(request.user)

        return SectionMenuItem

    def on_register(self):
        super().on_register()
        if self.permission:
            hooks.register("register_permissions", self.permissions)

    def permissions(self):
        app_label, codename = self.permission
        return Permission.objects.filter(content_type__app_label=app_label, codename=codename)

    def guard(self, view):
        """`view` refused (403) to whom may not see the section, and never cached."""
        @wraps(view)
        def guarded(request, *args, **kwargs):
            if not self.may_see(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return never_cache(guarded)

    def crumbs(self, *items):
        """Home, the section's index, then `items` ((url, label) pairs)."""
        return [{"url": reverse("wagtailadmin_home"), "label": _("Home")},
                {"url": reverse(self.get_url_name("index")), "label": self.menu_label},
                *({"url": url, "label": label} for url, label in items)]

    def page(self, request, template, title, context, *, crumbs=(), status=200):
        """A page of the section, on Wagtail's generic admin frame (`header_title`,
        `header_icon`, `breadcrumbs_items`); never stored by a browser or proxy."""
        response = TemplateResponse(request, template, {
            "header_title": title, "header_icon": self.icon,
            "breadcrumbs_items": self.crumbs(*crumbs), **context}, status=status)
        response["Cache-Control"] = "no-store"
        return response
