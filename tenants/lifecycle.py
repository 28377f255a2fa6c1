"""Suspending and resuming tenants (archive and delete come with fleet operations)."""

from django.core.exceptions import ValidationError

from .models import Tenant


class LifecycleError(ValidationError):
    pass


def get_tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.launched().filter(slug=slug).first()
    if tenant is None:
        raise LifecycleError(f"No tenant with slug '{slug}' (see `dgbox tenant list`).")
    return tenant


def suspend(slug: str) -> Tenant:
    """Citizens see a maintenance page until the tenant is resumed; nothing is deleted."""
    tenant = get_tenant(slug)
    if tenant.status != Tenant.Status.ACTIVE:
        raise LifecycleError(
            f"Tenant '{slug}' is {tenant.status}; only an active tenant can be suspended."
        )
    tenant.status = Tenant.Status.SUSPENDED
    tenant.save(update_fields=["status", "updated_at"])
    return tenant


def resume(slug: str) -> Tenant:
    tenant = get_tenant(slug)
    if tenant.status != Tenant.Status.SUSPENDED:
        raise LifecycleError(
            f"Tenant '{slug}' is {tenant.status}; only a suspended tenant can be resumed."
        )
    tenant.status = Tenant.Status.ACTIVE
    tenant.save(update_fields=["status", "updated_at"])
    return tenant
