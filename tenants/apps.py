from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Tenants and the national platform")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django's place for connecting receivers: models can be imported only from here on.
        from .launch import spares  # noqa: F401, PLC0415 - restocks the pool on template refresh
        from .staff import show_groups_by_role  # noqa: PLC0415 - uses the auth models

        show_groups_by_role()
