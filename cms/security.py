"""The tenant's own sign-in rule: "require two-factor authentication for all staff"
(SecuritySettings, edited under Settings in the admin), registered with
tenants.staffauth.policy when the app starts."""

from typing import Any

from .models import SecuritySettings


def staff_must_use_two_factor(user: Any) -> bool:
    """True for anyone who can open this tenant's admin once the setting is on."""
    if not (user.is_staff or user.has_perm("wagtailadmin.access_admin")):
        return False
    return bool(SecuritySettings.load().require_two_factor_for_staff)
