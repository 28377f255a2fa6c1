"""Who may do what in the operator console (public schema), in one place.

Two roles, both users of the public schema:

* a **national operator** (`is_operator`): an active staff user with "Can view tenant"
  (`tenants.view_tenant`), or a superuser; sees and acts on every tenant, and the rollouts;
* a **regional administrator** (`is_regional_administrator`): an active user with a
  `RegionalAdministrator` row; sees and acts on their region and its municipalities only, and
  launches municipalities under that region only. Everything else does not exist for them
  (404, never 403).

A tenant's own staff are users of the tenant's schema and never reach these functions with an
account here. Other modules (two-factor policy, audit) call these small functions rather than
re-reading the rules.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from tenants.models import RegionalAdministrator, Tenant, TenantQuerySet

OPERATOR_PERMISSION = "tenants.view_tenant"


def is_operator(user: Any) -> bool:
    """A national operator: every tenant, the rollouts, launches anywhere."""
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and user.has_perm(OPERATOR_PERMISSION))


def region_of(user: Any) -> Tenant | None:
    """The region `user` administers, or None (not a regional administrator, or inactive)."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return None
    if not hasattr(user, "_dgbox_region"):  # once per request: the user object lives that long
        row = (RegionalAdministrator.objects.filter(user_id=user.pk).select_related("region")
               .first())
        user._dgbox_region = row.region if row is not None else None
    region: Tenant | None = user._dgbox_region
    return region


def is_regional_administrator(user: Any) -> bool:
    """A regional administrator (and not a national operator, who sees everything anyway)."""
    return not is_operator(user) and region_of(user) is not None


def may_use_console(user: Any) -> bool:
    return is_operator(user) or region_of(user) is not None


def tenants_in_scope(user: Any) -> TenantQuerySet:
    """The launched tenants `user` may see and act on in the console (none for others)."""
    launched = Tenant.objects.launched()
    if is_operator(user):
        return launched
    region = region_of(user)
    if region is None:
        return launched.none()
    return launched.filter(Q(pk=region.pk) | Q(parent_id=region.pk))


def regions_for_launch(user: Any) -> TenantQuerySet:
    """The regions under which `user` may launch a municipality."""
    regions = Tenant.objects.filter(kind=Tenant.Kind.REGION).exclude(
        status=Tenant.Status.ARCHIVED)
    if is_operator(user):
        return regions
    region = region_of(user)
    return regions.filter(pk=region.pk) if region is not None else regions.none()


def may_launch_regions(user: Any) -> bool:
    """Only national operators launch regions."""
    return is_operator(user)
