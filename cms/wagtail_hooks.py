"""Admin registration: snippets editors manage (national registers are read-only and so
absent), and the "Invite staff member" page (cms/invitations.py)."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from . import invitations
from .models import AlertBanner, FooterLink
from .viewsets import AddLabelMixin


class AlertBannerViewSet(AddLabelMixin, SnippetViewSet):
    model = AlertBanner
    add_item_label = _("Add alert banner")


class FooterLinkViewSet(AddLabelMixin, SnippetViewSet):
    model = FooterLink
    add_item_label = _("Add footer link")


register_snippet(AlertBannerViewSet)
register_snippet(FooterLinkViewSet)


@hooks.register("register_admin_urls")
def staff_urls():
    return [path("staff/invite/", invitations.invite_staff, name="cms_invite_staff")]


class InviteStaffMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(invitations.PERMISSION)


@hooks.register("register_settings_menu_item")
def invite_staff_menu_item():
    # Next to Wagtail's own "Users" (order 600) in the Settings menu.
    return InviteStaffMenuItem(_("Invite staff member"), reverse("cms_invite_staff"),
                               icon_name="user", order=601)

