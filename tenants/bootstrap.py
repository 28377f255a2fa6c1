"""The national operator's tenant row, owner of the public schema and the base domain."""

from django.conf import settings
from django.db import transaction
from django_tenants.utils import get_public_schema_name

from .models import Domain, Tenant


@transaction.atomic
def ensure_public_tenant() -> Tenant:
    tenant: Tenant
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"name": "National portal", "slug": "public", "kind": Tenant.Kind.NATIONAL,
                  "status": Tenant.Status.ACTIVE},
    )
    Domain.objects.get_or_create(
        domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True}
    )
    return tenant
