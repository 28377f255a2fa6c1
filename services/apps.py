from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """Online services, applications and cases (tenant schema)."""

    name = "services"
    verbose_name = "Digital services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from tenants.metering import register_meter

        from .metering import case_and_message_usage

        register_meter(case_and_message_usage)
