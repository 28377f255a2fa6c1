from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """Online services, applications and cases (tenant schema)."""

    name = "services"
    verbose_name = "Digital services"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Django's idiom: these modules use models, which are importable only once the app
        # registry is ready, i.e. here and not at the top of this module.
        from tenants.metering import register_meter  # noqa: PLC0415

        from .cases.metering import case_and_message_usage  # noqa: PLC0415
        from .cases.signals import case_decided  # noqa: PLC0415
        from .letters.tasks import on_decision  # noqa: PLC0415

        register_meter(case_and_message_usage)
        case_decided.connect(on_decision, dispatch_uid="services.letters.on_decision")
