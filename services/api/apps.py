from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """API clients, their keys and the /api/v1/ endpoints (tenant schema)."""

    name = "services.api"
    label = "api"
    verbose_name = _("Open API")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Django's idiom: these modules use models, importable only once the registry is ready.
        from tenants.metering import register_meter  # noqa: PLC0415

        from .usage import copy_client_usage  # noqa: PLC0415

        register_meter(copy_client_usage)
