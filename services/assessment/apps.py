from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AssessmentConfig(AppConfig):
    """Maturity assessment rounds and their answers (tenant schema)."""

    name = "services.assessment"
    label = "assessment"
    verbose_name = _("Maturity assessment")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Fail at start-up, not on the first page view, if a shipped model file is invalid.
        from .framework import current  # noqa: PLC0415 - Django's idiom, after the registry

        current()
