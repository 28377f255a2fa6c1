from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """Service catalogue, online applications and cases (tenant schema). Not built yet: see
    the README's "Known limits"; the app is registered now because an app's place in
    TENANT_APPS is fixed by its first migration."""

    name = "services"
    verbose_name = "Digital services"
    default_auto_field = "django.db.models.BigAutoField"
