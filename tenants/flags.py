"""Feature flags the code checks per tenant: `is_enabled("new-search")`.

A flag (FeatureFlag, public schema) has a default per release channel: on for canary tenants
first, later for stable ones. A tenant can have it switched on or off for itself alone
(`Tenant.flags`). So a feature ships dark, is tried on the canary tenants, then opened to
everyone, without a deploy in between:

    dgbox rollout flag define new-search --canary on --stable off
    dgbox rollout flag set new-search ryabinovka on
    dgbox rollout flag define new-search --stable on

`is_enabled(name)` reads the current tenant from the connection (set by the routing middleware
and by Celery tasks). Flag definitions and the tenants' channels and overrides are read in one
query each and kept for DGBOX_TENANT_CACHE_SECONDS (5 s) per process: a
change made in another process shows within that time; one made in this process at once.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from .db import connection
from .models import FeatureFlag, ReleaseChannel, Tenant

#: Flag defaults {name: (canary, stable)}, tenants {schema: (channel, overrides)}, expiry.
_Data = tuple[dict[str, tuple[bool, bool]], dict[str, tuple[str, dict[str, bool]]], float]


class _Snapshot:
    """Flag defaults {name: (canary, stable)} and tenants {schema: (channel, overrides)}."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._data: _Data | None = None
        self._lock = threading.Lock()

    def get(self) -> _Data:
        data = self._data
        if data is not None and data[2] > self.clock():
            return data
        with self._lock:
            data = self._data
            if data is None or data[2] <= self.clock():
                data = self._load()
                if self.ttl > 0:
                    self._data = data
        return data

    def _load(self) -> _Data:
        # Whatever schema the connection is in: the `tenants` tables exist only in public,
        # which is on every tenant's search path (as the national registers are).
        flags = {f.name: (f.canary, f.stable) for f in FeatureFlag.objects.all()}
        tenants = {row[0]: (row[1], row[2] or {}) for row in Tenant.objects.values_list(
            "schema_name", "release_channel", "flags")}
        return flags, tenants, self.clock() + self.ttl

    def clear(self, **_kwargs: Any) -> None:
        self._data = None


_snapshot = _Snapshot(ttl=float(getattr(settings, "DGBOX_TENANT_CACHE_SECONDS", 5)))
for _model in (FeatureFlag, Tenant):
    post_save.connect(_snapshot.clear, sender=_model, dispatch_uid=f"flags-save-{_model}")
    post_delete.connect(_snapshot.clear, sender=_model, dispatch_uid=f"flags-delete-{_model}")


def forget() -> None:
    """Read flags and tenants again on the next check (after queryset updates)."""
    _snapshot.clear()


def is_enabled(name: str, tenant: Tenant | None = None, *, default: bool = False) -> bool:
    """Whether flag `name` is on for `tenant` (default: the connection's current tenant).

    The tenant's own override wins, then the flag's default for the tenant's release channel.
    The public schema (national portal) gets the stable default. A flag nobody defined is
    `default`.
    """
    flags, tenants, _ = _snapshot.get()
    schema: str | None = getattr(tenant or getattr(connection, "tenant", None), "schema_name",
                                 None)
    no_tenant: tuple[str, dict[str, bool]] = (ReleaseChannel.STABLE, {})
    channel, overrides = tenants.get(schema, no_tenant) if schema is not None else no_tenant
    if schema is not None and tenant is not None and isinstance(tenant, Tenant):
        # A Tenant instance in hand is as fresh as the caller's: prefer it.
        channel, overrides = tenant.release_channel, tenant.flags or {}
    if name in overrides:
        return bool(overrides[name])
    if name not in flags:
        return default
    canary, stable = flags[name]
    return canary if channel == ReleaseChannel.CANARY else stable


def flags_for(tenant: Tenant) -> dict[str, bool]:
    """Every defined flag's value for `tenant`, plus its overrides of undefined ones."""
    flags, _, _ = _snapshot.get()
    names = set(flags) | set(tenant.flags or {})
    return {name: is_enabled(name, tenant) for name in sorted(names)}


# --- Changing flags (the CLI and, later, the operator console) -----------------------------------


def define(name: str, *, canary: bool | None = None, stable: bool | None = None,
           description: str | None = None) -> FeatureFlag:
    """Create flag `name` or change its defaults; arguments left None keep their value
    (a new flag is off everywhere unless told otherwise)."""
    flag, _ = FeatureFlag.objects.get_or_create(name=name)
    if canary is not None:
        flag.canary = canary
    if stable is not None:
        flag.stable = stable
    if description is not None:
        flag.description = description
    flag.save()
    return flag


def delete(name: str) -> bool:
    """Delete the flag and every tenant's override of it."""
    deleted, _ = FeatureFlag.objects.filter(name=name).delete()
    for tenant in Tenant.objects.filter(flags__has_key=name):
        tenant.flags.pop(name, None)
        tenant.save(update_fields=["flags"])
    return bool(deleted)


def set_for_tenant(tenant: Tenant, name: str, value: bool | None) -> Tenant:
    """Switch `name` on or off for `tenant` alone; None removes the override."""
    flags = dict(tenant.flags or {})
    if value is None:
        flags.pop(name, None)
    else:
        flags[name] = bool(value)
    tenant.flags = flags
    tenant.save(update_fields=["flags"])
    return tenant
