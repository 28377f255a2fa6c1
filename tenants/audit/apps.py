from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The audit trail: in SHARED_APPS and TENANT_APPS, so the public schema holds the
    platform's events and each tenant schema its own (placement fixed since 0001)."""

    name = "tenants.audit"
    label = "audit"
    verbose_name = _("Audit trail")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Django's place for connecting receivers: models can be imported only from here on.
        from . import receivers  # noqa: PLC0415 - receivers need the models loaded

        receivers.connect()
