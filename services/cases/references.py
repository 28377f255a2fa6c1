"""Case references, PREFIX-YEAR-NNNNNN, unique across the platform: the prefix is the
tenant's own (kept on its row in the public schema, unique there: tenants/references.py),
the number comes from the tenant schema's sequence (unique in the tenant, never reused).

The prefix may change only until the first reference is given out: after that a citizen may
hold a reference with it, and a new tenant taking the old prefix could give the same
reference to another case.
"""

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants import references as platform

SEQUENCE = "services_case_reference_seq"


def _schema() -> str:
    return connection.tenant.schema_name


def references_issued() -> bool:
    """Whether this tenant has given out a reference (even for a case since erased)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT is_called FROM {SEQUENCE}")  # noqa: S608 - a constant # nosec B608
        return cursor.fetchone()[0]


def _or_base(prefix: str) -> str:
    """`prefix`, or the one made from the tenant's slug for a tenant that has none yet."""
    return prefix or platform.base_prefix(getattr(connection.tenant, "slug", "") or "")


def reference_prefix(*, lock: bool = False) -> str:
    """This tenant's prefix (made from its slug for a tenant that has none yet)."""
    return _or_base(platform.prefix_of(_schema(), lock=lock))


def next_reference(now=None) -> str:
    """A new reference. Call inside the transaction that stores it: the prefix is read under
    a lock that a change of prefix waits for, before the number is taken."""
    # One statement for both (the prefix's row locked first); a schema with no tenant row
    # (a test's stand-in) takes its number on its own.
    found = platform.prefix_and_number(_schema(), SEQUENCE)
    if found is None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval('{SEQUENCE}')")
            found = "", cursor.fetchone()[0]
    prefix, number = found
    year = (now or timezone.now()).year
    return f"{_or_base(prefix)}-{year}-{number:06d}"


def change_reference_prefix(prefix: str) -> str:
    """Set this tenant's prefix (normalised and returned), or raise tenants' PrefixError
    (a ValidationError) saying why not: its form, another tenant has it, or references have
    been given out already."""

    def allowed():
        if references_issued():
            raise platform.PrefixError(
                _("Case references have already been given out with the prefix %(prefix)s, "
                  "so it can no longer change: citizens quote those references.")
                % {"prefix": reference_prefix()}, code="issued")

    return platform.assign_prefix(_schema(), prefix, allowed=allowed)
