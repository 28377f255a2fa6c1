from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    """API clients, their keys and the /api/v1/ endpoints (tenant schema)."""

    name = "services.api"
    label = "api"
    verbose_name = _("Open API")
    default_auto_field = "django.db.models.BigAutoField"
