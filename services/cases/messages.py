"""What the applicant's messages about a case say: the placeholder values of a notification
(services/notifications) filled from the case, and the link to the case's status page.

Shared by everything that writes to the applicant about a case: submission, the case
engine, payments and tracking codes."""

from django.conf import settings
from django.db import connection

from tenants import tenant_cache

from ..notifications.placeholders import PLACEHOLDERS


def notification_context(key, case, **extra):
    """The placeholders message `key` takes, filled from the case."""
    tenant = connection.tenant
    values = {"reference": case.reference, "service": case.service.page.title,
              "status": case.status_label, "applicant_name": case.applicant_name,
              "tenant_name": tenant.name,
              "url": tracking_url(tenant, case.language), **extra}
    return {name: values.get(name, "") for name in PLACEHOLDERS[key]}


def tracking_url(tenant, language):
    """The absolute address of the tenant's status page in `language`."""
    if tenant is connection.tenant:
        # From the tenant's cache until one of its domains changes: every receipt asks.
        domain = tenant_cache.remember("primary-domain", lambda: tenant.primary_domain) or ""
    else:
        domain = tenant.primary_domain or ""
    port = f":{settings.DGBOX_SITE_PORT}" if settings.DGBOX_SITE_PORT else ""
    return f"{settings.DGBOX_SITE_SCHEME}://{domain}{port}/{language}/track/"
