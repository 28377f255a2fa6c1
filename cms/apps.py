from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _
from wagtail.users.apps import WagtailUsersAppConfig


class CmsConfig(AppConfig):
    default = True  # this module also holds WagtailUsersConfig
    name = "cms"
    verbose_name = _("Tenant content sites")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Django's place for connecting receivers: models can be imported only from here on.
        from tenants import staff  # noqa: PLC0415 - uses the auth models: only once apps load
        from tenants.staffauth import policy  # noqa: PLC0415 - as above

        # provisioning connects the tenant signals; security reads the cms models; catalogue
        # connects the page signals that keep the national catalogue up to date; chrome
        # registers what the tenant's cache watches for the site's chrome, in every process.
        from . import catalogue, chrome, provisioning, security  # noqa: F401, PLC0415
        from .admin_csp import install  # noqa: PLC0415 - imports Wagtail's admin widgets

        install()  # the request's CSP nonce on Wagtail's inline widget scripts

        # Wagtail's own groups (made by its migrations, looked up by these names).
        staff.register_role(staff.Role(
            "editor", _("Editor"),
            _("Writes and changes pages and sends them to a moderator; cannot publish."),
            group="Editors", group_label=_("Editors")))
        staff.register_role(staff.Role(
            "moderator", _("Moderator"),
            _("Writes, changes and publishes pages, and approves what editors send."),
            group="Moderators", group_label=_("Moderators")))
        policy.register_requirement(security.staff_must_use_two_factor)


class WagtailUsersConfig(WagtailUsersAppConfig):
    """Wagtail's users app (installed in its place), with Settings → Groups showing the
    groups of dgbox's roles by their translated names (cms/groups.py)."""

    group_viewset = "cms.groups.GroupViewSet"
