"""The staff of a tenant: roles in plain words, and inviting a member of staff.

A role is what a person may do, said plainly ("Editor", "Case worker"). Behind it is either
the administrator flag or a group whose stored name code looks up (Wagtail's "Editors" and
"Moderators", services' "Case workers"); those names never change, only how they are shown
(`group_label`, which every screen that prints a group uses: `show_groups_by_role`). The apps
that own the groups register their roles here when they start (cms: editor and moderator;
services: case worker), so this module imports none of them.

An invitation works like the first administrator's at launch (tenants/provisioning.py): the
person gets an account in this tenant's schema only, with no password, and an e-mail with a
one-time link to set one, made by Django's password-reset tokens (valid
PASSWORD_RESET_TIMEOUT; spent once the password is set) on the tenant's own host.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, override

from .addresses import site_url
from .db import connection

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_stubs_ext import StrOrPromise


@dataclass(frozen=True)
class Role:
    """A role staff can be given. `group` is the stored group name ("" for the administrator,
    who holds every permission); `group_label` is how that group is shown."""

    code: str
    label: StrOrPromise
    description: StrOrPromise
    group: str = ""
    group_label: StrOrPromise = ""


ADMINISTRATOR = Role(
    "administrator", gettext_lazy("Administrator"),
    gettext_lazy("Can do everything: pages, online services, cases, settings and staff."))

_roles: dict[str, Role] = {ADMINISTRATOR.code: ADMINISTRATOR}


def register_role(role: Role) -> None:
    """Offer `role` when staff are invited (apps call this from AppConfig.ready)."""
    _roles[role.code] = role


def roles() -> list[Role]:
    """Every role, in the order they were registered (the administrator first)."""
    return list(_roles.values())


def role_of_group(name: str) -> Role | None:
    """The role whose group is stored as `name`, if any."""
    for role in _roles.values():
        if role.group and role.group == name:
            return role
    return None


def group_label(name: str) -> str:
    """How the group stored as `name` is shown: its role's translated name, else the name."""
    role = role_of_group(name)
    return str(role.group_label or role.label) if role else name


def _group_shown(group: Group) -> str:
    return group_label(group.name)


def show_groups_by_role() -> None:
    """Show every group by `group_label` wherever Django or Wagtail print a group (str():
    the Roles tab of a user, the users list's group filter, "assign role", a workflow
    task's groups, page privacy, messages). Stored names never change: code and workflows
    look groups up by them, and Wagtail's own migrations made "Editors" and "Moderators"
    in the template every tenant starts from
    (docs/decisions/0006-group-names-shown-translated.md)."""
    Group.__str__ = _group_shown  # type: ignore[method-assign,assignment]


class InvitationError(ValidationError):
    """The invitation was refused, nothing was created; says why for each field ("email",
    "roles"), the way a form shows it."""


@dataclass
class Invitation:
    user: User
    link: str


def set_password_path(user: User) -> str:
    """The path of a one-time "set your password" link for `user` (Wagtail's password reset
    confirmation, which a tenant's site serves)."""
    return reverse("wagtailadmin_password_reset_confirm", urlconf=settings.ROOT_URLCONF,
                   kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                           "token": default_token_generator.make_token(user)})


def invite_staff(*, email: str, first_name: str, last_name: str, role_codes: Iterable[str],
                 invited_by: Any = None) -> Invitation:
    """Create a member of staff in the current tenant's schema with `role_codes` and e-mail
    them the link to set their password. Refused (InvitationError, nothing created, nothing
    sent) if the address is taken or a role cannot be given; if the e-mail cannot be sent the
    account is not kept either."""
    tenant = connection.tenant
    role_codes = list(role_codes or ())
    email = (email or "").strip().lower()
    chosen = [_roles[code] for code in dict.fromkeys(role_codes or ()) if code in _roles]
    problems: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        problems["email"] = [_("Enter an e-mail address like name@example.ru.")]
    User = get_user_model()
    if "email" not in problems and (User.objects.filter(email__iexact=email).exists() or
                                    User.objects.filter(username__iexact=email).exists()):
        problems["email"] = [_("%(email)s already has an account here: change their roles "
                               "under Settings → Users instead.") % {"email": email}]
    unknown = [code for code in role_codes or () if code not in _roles]
    if unknown or not chosen:
        problems["roles"] = [_("Choose at least one role from the list.")]
    group_names = [role.group for role in chosen if role.group]
    groups = list(Group.objects.filter(name__in=group_names))
    for name in sorted(set(group_names) - {group.name for group in groups}):
        problems.setdefault("roles", []).append(_(
            "The group “%(group)s” this role needs is missing: create it under Settings → "
            "Groups, or choose another role.") % {"group": group_label(name)})
    if problems:
        raise InvitationError(problems)

    domain = tenant.get_primary_domain()
    base = site_url(domain.domain) if domain else ""
    with transaction.atomic():
        user = User.objects.create_user(
            username=email, email=email, password=None, first_name=(first_name or "").strip(),
            last_name=(last_name or "").strip(), is_staff=True,
            is_superuser=ADMINISTRATOR in chosen)
        user.groups.set(groups)
        link = base + set_password_path(user)
        # An error sending rolls the account back: no one is left with an account they were
        # never told about.
        with override(tenant.default_language):
            send_mail(_invitation_subject(tenant), _invitation_body(
                tenant, user, chosen, link, base, invited_by), None, [email])
    return Invitation(user=user, link=link)


def _invitation_subject(tenant: Any) -> str:
    return _("Your account in the administration of %(site)s") % {"site": tenant.name}


def _invitation_body(tenant: Any, user: Any, chosen: list[Role], link: str, base: str,
                     invited_by: Any) -> str:
    days = settings.PASSWORD_RESET_TIMEOUT // (24 * 3600)
    inviter = (invited_by.get_full_name() or invited_by.email) if invited_by else ""
    lines = [
        _("Hello %(name)s,") % {"name": user.get_full_name() or user.email}, "",
        (_("%(inviter)s has given you an account in the administration of %(site)s.")
         % {"inviter": inviter, "site": tenant.name}) if inviter else
        _("You have an account in the administration of %(site)s.") % {"site": tenant.name},
        "", _("Your roles:"),
        *(f"- {role.label}: {role.description}" for role in chosen), "",
        ngettext("Set your password with this link (it works once, for %(days)s day):",
                 "Set your password with this link (it works once, for %(days)s days):",
                 days) % {"days": days}, link, "",
        _("Then sign in at %(url)s with your e-mail address %(email)s.")
        % {"url": f"{base}/admin/", "email": user.email}, "",
        _("If you did not expect this e-mail, ignore it: nothing happens until the password "
          "is set."),
    ]
    return "\n".join(str(line) for line in lines)
