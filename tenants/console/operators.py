"""Central operators and regional administrators: users of the public schema who may use the
operator console (what each may do there: tenants/access.py).

A regional administrator is a staff user without "Can view tenant" and with a
`RegionalAdministrator` row naming their region (`dgbox operator add EMAIL --region SLUG`).

An operator is an active staff user with the "Can view tenant" permission (superusers
qualify too). They are added from the CLI (`dgbox operator add`) without a password and get a
one-time link to set one; `dgbox operator link` makes a new link (lost password);
`dgbox operator deactivate` ends their access at once (their sessions stop working: Django
refuses inactive users), keeping the account for the record. Accounts are deactivated rather
than deleted: the public schema has no tables of the tenant apps that point at users.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission, User, UserManager
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tenants.utils import get_public_schema_name

from tenants.addresses import site_url
from tenants.db import connection
from tenants.models import RegionalAdministrator, Tenant

PERMISSION = ("tenants", "view_tenant")


class OperatorError(Exception):
    """What was wrong, in words the person at the terminal can act on."""


def _users() -> UserManager[User]:
    if connection.schema_name != get_public_schema_name():
        raise OperatorError("Operators live in the public schema; run this without a tenant.")
    return get_user_model().objects


def permission() -> Permission:
    app_label, codename = PERMISSION
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def operators() -> QuerySet[User]:
    """Active and deactivated operators and regional administrators, by e-mail."""
    return (_users().filter(is_staff=True)
            .filter(user_permissions=permission()) | _users().filter(is_superuser=True)
            | _users().filter(regional_administrator__isnull=False)
            ).distinct().order_by("email", "username")


def regions_by_user() -> dict[int, str]:
    """{user id: region slug} of every regional administrator."""
    return dict(RegionalAdministrator.objects.values_list("user_id", "region__slug"))


def set_password_link(user: User) -> str:
    path = reverse("operator-set-password", urlconf=settings.PUBLIC_SCHEMA_URLCONF,
                   kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                           "token": default_token_generator.make_token(user)})
    return site_url(settings.BASE_DOMAIN) + path


def add(email: str, region: str | None = None) -> tuple[User, str]:
    """A new operator (or, with `region`, a regional administrator of that region) without a
    usable password; returns (user, one-time link)."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise OperatorError(f"'{email}' is not an e-mail address.") from exc
    users = _users()
    region_row = None
    if region is not None:
        region_row = Tenant.objects.filter(slug=region, kind=Tenant.Kind.REGION).first()
        if region_row is None:
            raise OperatorError(f"No region '{region}': give the slug of a region (see "
                                "`dgbox tenant list`).")
    if users.filter(username__iexact=email).exists() or users.filter(email__iexact=email).exists():
        raise OperatorError(f"{email} already has an account: `dgbox operator link {email}` "
                            "makes a new sign-in link, `dgbox operator list` shows who is who.")
    with transaction.atomic():
        user = users.create_user(username=email, email=email, password=None, is_staff=True)
        if region_row is None:
            user.user_permissions.add(permission())
        else:
            RegionalAdministrator.objects.create(user=user, region=region_row)
    return user, set_password_link(user)


def find(email: str) -> User:
    user = operators().filter(email__iexact=(email or "").strip()).first()
    if user is None:
        raise OperatorError(f"No operator {email}: see `dgbox operator list`.")
    return user


def new_link(email: str) -> str:
    user = find(email)
    if not user.is_active:
        raise OperatorError(f"{email} is deactivated: `dgbox operator activate {email}` first.")
    return set_password_link(user)


def set_active(email: str, active: bool) -> User:
    user = find(email)
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user
