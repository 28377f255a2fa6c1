from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "Tenant content sites"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Django's place for connecting receivers: models can be imported only from here on.
        from . import provisioning  # noqa: F401, PLC0415 - connects the tenant signals
