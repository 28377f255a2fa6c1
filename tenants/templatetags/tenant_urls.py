"""`{% tenant_site_url %}`: the absolute URL of the current tenant's own site (its primary
domain), for links in e-mails; Wagtail's WAGTAILADMIN_BASE_URL is the base domain, where a
tenant's admin pages do not exist."""

from django import template
from django.conf import settings

from tenants.addresses import site_url
from tenants.db import connection

register = template.Library()


@register.simple_tag
def tenant_site_url() -> str:
    tenant = getattr(connection, "tenant", None)
    domain = tenant.get_primary_domain() if tenant is not None else None
    return site_url(domain.domain if domain is not None else settings.BASE_DOMAIN)
