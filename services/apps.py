from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _on_decision(case, **signal):
    """Receiver of `case_decided`: services.letters.tasks.on_decision, imported when a case is
    decided. The task module imports Celery, which a process that decides nothing (`dgbox
    tenant list`) need not load at start-up (dgbox/__init__.py)."""
    from .letters.tasks import on_decision  # noqa: PLC0415

    on_decision(case, **signal)


class ServicesConfig(AppConfig):
    """Online services, applications and cases (tenant schema)."""

    name = "services"
    verbose_name = _("Digital services")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Django's idiom: these modules use models, which are importable only once the app
        # registry is ready, i.e. here and not at the top of this module.
        from tenants import staff  # noqa: PLC0415
        from tenants.metering import register_meter  # noqa: PLC0415

        # engine, published, api: what the tenant's cache watches (tenants/tenant_cache.py)
        # is registered in every process.
        from .cases import engine  # noqa: F401, PLC0415
        from .cases.metering import case_and_message_usage  # noqa: PLC0415
        from .cases.signals import case_decided  # noqa: PLC0415
        from .forms import published  # noqa: F401, PLC0415
        from .notifications import api  # noqa: F401, PLC0415
        from .workflows.spec import STAFF_GROUP  # noqa: PLC0415

        register_meter(case_and_message_usage)
        case_decided.connect(_on_decision, dispatch_uid="services.letters.on_decision")
        staff.register_role(staff.Role(
            "case_worker", _("Case worker"),
            _("Handles citizens' applications under Cases: reviews them, asks for "
              "information and decides."),
            group=STAFF_GROUP, group_label=_("Case workers")))
