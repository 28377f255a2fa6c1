"""A tenant's status after its launch: looking it up, suspending, resuming and archiving.

Nothing here deletes anything: suspended and archived tenants keep every row and file
(deletion, export first, is tenants/lifecycle/deletion.py).
"""

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django_tenants.utils import get_public_schema_name, schema_context

from tenants import catalogue
from tenants.audit.models import Kind
from tenants.audit.service import record
from tenants.models import Tenant

P = ParamSpec("P")
R = TypeVar("R")


class LifecycleError(ValidationError):
    pass


def _in_public_schema(func: Callable[P, R]) -> Callable[P, R]:
    """Tenant rows live in the public schema, whatever schema the caller is serving."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with schema_context(get_public_schema_name()):
            return func(*args, **kwargs)

    return wrapper


def get_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.launched().filter(slug=slug).first()
    if tenant is None:
        raise LifecycleError(f"No tenant with slug '{slug}' (see `dgbox tenant list`).")
    return tenant


@_in_public_schema
def suspend(slug: str) -> Tenant:
    """Citizens see a maintenance page until the tenant is resumed; nothing is deleted."""
    tenant = get_tenant(slug)
    if tenant.status != Tenant.Status.ACTIVE:
        raise LifecycleError(
            f"Tenant '{slug}' is {tenant.status}; only an active tenant can be suspended."
        )
    tenant.status = Tenant.Status.SUSPENDED
    tenant.save(update_fields=["status", "updated_at"])
    catalogue.set_listed(tenant, False)
    record(Kind.TENANT_SUSPENDED, tenant.slug, obj=tenant, in_public=True)
    return tenant


@_in_public_schema
def resume(slug: str) -> Tenant:
    tenant = get_tenant(slug)
    if tenant.status != Tenant.Status.SUSPENDED:
        raise LifecycleError(
            f"Tenant '{slug}' is {tenant.status}; only a suspended tenant can be resumed."
        )
    tenant.status = Tenant.Status.ACTIVE
    tenant.save(update_fields=["status", "updated_at"])
    catalogue.set_listed(tenant, True)
    record(Kind.TENANT_RESUMED, tenant.slug, obj=tenant, in_public=True)
    return tenant


@_in_public_schema
def archive(slug: str) -> Tenant:
    """Citizens get the "no longer available" page (410); every row and file is kept."""
    tenant = get_tenant(slug)
    if tenant.status == Tenant.Status.ARCHIVED:
        raise LifecycleError(f"Tenant '{slug}' is already archived.")
    if tenant.status == Tenant.Status.PROVISIONING:
        raise LifecycleError(f"Tenant '{slug}' is still provisioning; it cannot be archived.")
    tenant.status = Tenant.Status.ARCHIVED
    tenant.save(update_fields=["status", "updated_at"])
    catalogue.set_listed(tenant, False)
    record(Kind.TENANT_ARCHIVED, tenant.slug, obj=tenant, in_public=True)
    return tenant
