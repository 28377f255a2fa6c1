from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = _("Tenant content sites")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Django's place for connecting receivers: models can be imported only from here on.
        from tenants import staff  # noqa: PLC0415 - uses the auth models: only once apps load

        from . import provisioning  # noqa: F401, PLC0415 - connects the tenant signals
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
