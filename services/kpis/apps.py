from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KpisConfig(AppConfig):
    """Daily KPI snapshots of the tenant and the funnel's counters (tenant schema)."""

    name = "services.kpis"
    label = "kpis"
    verbose_name = _("Key performance indicators")
    default_auto_field = "django.db.models.BigAutoField"
