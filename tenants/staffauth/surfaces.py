"""The two places staff sign in, and the names of their second-factor and session pages.

The tenant's Wagtail admin registers its pages under these names (cms/wagtail_hooks.py), the
operator console under its own (dgbox/urls_public.py); the middleware picks the surface from
the request's schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_tenants.utils import get_public_schema_name

from tenants.db import connection


@dataclass(frozen=True)
class Surface:
    templates: str  # folder of this surface's templates
    verify: str
    enrol: str
    manage: str
    sessions: str
    home: str
    login: str
    # URL names a signed-in user who still owes a second factor may open.
    open_names: frozenset[str]


ADMIN = Surface(
    templates="cms/admin/twofactor/", verify="dgbox_2fa_verify", enrol="dgbox_2fa_enrol",
    manage="dgbox_2fa_manage", sessions="dgbox_sessions", home="wagtailadmin_home",
    login="wagtailadmin_login",
    open_names=frozenset({
        "wagtailadmin_login", "wagtailadmin_logout", "wagtailadmin_javascript_catalog",
        "wagtailadmin_sprite", "wagtailadmin_password_reset",
        "wagtailadmin_password_reset_done", "wagtailadmin_password_reset_confirm",
        "wagtailadmin_password_reset_complete"}))
OPERATOR = Surface(
    templates="operator/twofactor/", verify="operator-2fa-verify", enrol="operator-2fa-enrol",
    manage="operator-2fa-manage", sessions="operator-sessions", home="operator-home",
    login="operator-login",
    open_names=frozenset({"operator-login", "operator-logout", "operator-set-password"}))


def current() -> Surface:
    """The surface of the request being served (by its schema)."""
    return OPERATOR if connection.schema_name == get_public_schema_name() else ADMIN
