"""Admin registration: snippets editors manage (national registers are read-only and so
absent), the "Invite staff member" page (cms/invitations.py) and "Sign-in lockouts"
(cms/lockouts.py)."""

from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from tenants.staffauth import views as staffauth
from tenants.staffauth.surfaces import ADMIN

from . import invitations, lockouts
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
def sign_in_urls():
    """Second factor and sessions of the signed-in member of staff (tenants/staffauth/)."""
    surface = {"surface": ADMIN}
    return [
        path("two-factor/", staffauth.manage, surface, name=ADMIN.manage),
        path("two-factor/verify/", staffauth.verify, surface, name=ADMIN.verify),
        path("two-factor/add/", staffauth.enrol, surface, name=ADMIN.enrol),
        path("sessions/", staffauth.session_list, surface, name=ADMIN.sessions),
    ]


@hooks.register("register_account_menu_item")
def two_factor_account_item(request):
    return {"url": reverse(ADMIN.manage), "label": _("Two-factor authentication"),
            "help_text": _("Your authenticator app and recovery codes.")}


@hooks.register("register_account_menu_item")
def sessions_account_item(request):
    return {"url": reverse(ADMIN.sessions), "label": _("Your sessions"),
            "help_text": _("Where you are signed in; sign out other browsers.")}


@hooks.register("register_admin_urls")
def staff_urls():
    return [path("staff/invite/", invitations.invite_staff, name="cms_invite_staff"),
            path("lockouts/", lockouts.sign_in_lockouts, name="cms_sign_in_lockouts")]


class InviteStaffMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(invitations.PERMISSION)


@hooks.register("register_settings_menu_item")
def invite_staff_menu_item():
    # Next to Wagtail's own "Users" (order 600) in the Settings menu.
    return InviteStaffMenuItem(_("Invite staff member"), reverse("cms_invite_staff"),
                               icon_name="user", order=601)


class LockoutsMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(lockouts.PERMISSION)


@hooks.register("register_settings_menu_item")
def lockouts_menu_item():
    return LockoutsMenuItem(_("Sign-in lockouts"), reverse("cms_sign_in_lockouts"),
                            icon_name="lock", order=602)
