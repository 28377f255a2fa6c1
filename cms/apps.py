from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "Tenant content sites"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import provisioning  # noqa: F401 - connects the tenant signals
