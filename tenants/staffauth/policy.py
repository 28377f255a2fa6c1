"""Who must sign in with a second factor.

Required for every account of the public schema that may sign in (the operator console's
national operators, and regional administrators: every staff account there), and in a
tenant for its administrators. Apps add rules with `register_requirement` (cms: a tenant's
"require two-factor authentication for all staff" setting); a rule is asked only in a
tenant's schema, where it answers for that tenant's staff.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_tenants.utils import get_public_schema_name

from tenants.db import connection

Rule = Callable[[Any], bool]
_rules: list[Rule] = []


def register_requirement(rule: Rule) -> None:
    """`rule(user)` True makes that tenant user need a second factor (apps call this from
    AppConfig.ready)."""
    if rule not in _rules:
        _rules.append(rule)


def requires_two_factor(user: Any) -> bool:
    """Must `user` (of the current schema) sign in with a second factor?"""
    if not (user.is_authenticated and user.is_active):
        return False
    if connection.schema_name == get_public_schema_name():
        # Everyone who can sign in to the console: operators and regional administrators.
        return bool(user.is_staff or user.is_superuser)
    if user.is_superuser:  # a tenant's administrator
        return True
    return any(rule(user) for rule in _rules)
