"""Case reference prefixes, unique across the platform (the "ACC" of ACC-2026-000123).

Each tenant numbers its cases from a sequence of its own schema, so a reference is unique on
the platform only if no two tenants share a prefix. The prefix is kept on the tenant's row in
the public schema, where a unique constraint settles every race (two launches, two admins):
chosen at launch from the slug (`choose_prefix`, a suffix letter when taken), changed by the
tenant's administrator only until its first reference is given out (`assign_prefix`, called
by services with that check), read under a lock by whoever gives a reference out
(`prefix_for_reference`).
"""

import itertools
import re
import string
from collections.abc import Callable, Iterator

from anyascii import anyascii
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from .models import Tenant

PREFIX_RE = re.compile(r"^[A-Z]{2,5}$")
UNIQUE_CONSTRAINT = "tenant_reference_prefix_unique"


class PrefixError(ValidationError):
    """The prefix was refused; the message says why and what to do."""


def base_prefix(slug: str) -> str:
    """The first three latin letters of the slug, upper case ("ryabinovka" -> "RYA")."""
    letters = re.sub(r"[^A-Z]", "", anyascii(slug or "").upper())
    return (letters[:3] or "APP").ljust(2, "X")


def candidates(slug: str) -> Iterator[str]:
    """Prefixes for `slug`, best first: the base, then the base with one more letter (the
    slug's next letters first, "ACCO" for "accord"), then with two."""
    base = base_prefix(slug)
    yield base
    rest = re.sub(r"[^A-Z]", "", anyascii(slug or "").upper())[len(base):]
    letters = list(dict.fromkeys(rest + string.ascii_uppercase))
    for letter in letters:
        yield base + letter
    for first in letters:
        for second in string.ascii_uppercase:
            yield base + first + second
    # Hundreds of municipalities can share a slug's first letters ("novo..."): once every
    # extension above is taken (703 for a three-letter base), any free prefix that starts
    # with the slug's first letter, shortest first, then any free prefix at all.
    for length in range(2, 6):
        for tail in itertools.product(string.ascii_uppercase, repeat=length - 1):
            yield base[0] + "".join(tail)
    for length in range(2, 6):
        for letters_ in itertools.product(string.ascii_uppercase, repeat=length):
            yield "".join(letters_)


def taken_prefixes(exclude_pk: int | None = None) -> set[str]:
    rows = Tenant.objects.exclude(reference_prefix="")
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return set(rows.values_list("reference_prefix", flat=True))


def choose_prefix(slug: str, taken: set[str] | None = None) -> str:
    """The first free candidate for `slug` (at launch and in the migration of existing
    tenants)."""
    taken = taken_prefixes() if taken is None else taken
    free = next((prefix for prefix in candidates(slug) if prefix not in taken), None)
    if free is None:  # all 12 million 2-5 letter prefixes taken
        raise PrefixError(_("No reference prefix is free: every prefix of 2 to 5 capital "
                            "latin letters is used by another region or municipality."),
                          code="exhausted")
    return free


def normalise(prefix: str) -> str:
    return (prefix or "").strip().upper()


def check_prefix(prefix: str, tenant_pk: int | None = None) -> str:
    """`prefix` normalised, or PrefixError: its form, or another tenant has it."""
    prefix = normalise(prefix)
    if not PREFIX_RE.match(prefix):
        raise PrefixError(_("The reference prefix “%(prefix)s” is not valid: use 2 to 5 "
                            "capital latin letters, e.g. MSK.") % {"prefix": prefix},
                          code="invalid")
    if prefix in taken_prefixes(exclude_pk=tenant_pk):
        raise PrefixError(_("The reference prefix %(prefix)s is already used by another "
                            "region or municipality: case references must be unique across "
                            "the platform. Choose another, e.g. %(free)s.")
                          % {"prefix": prefix, "free": _free_like(prefix, tenant_pk)},
                          code="taken")
    return prefix


def _free_like(prefix: str, tenant_pk: int | None) -> str:
    return choose_prefix(prefix.lower(), taken_prefixes(exclude_pk=tenant_pk))


def _is_prefix_conflict(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == UNIQUE_CONSTRAINT


def save_with_prefix(tenant: Tenant, prefix: str = "") -> None:
    """Insert a new tenant's row with `prefix`, or (none given) with the first free candidate
    for its slug; a candidate another launch takes meanwhile is skipped (the unique
    constraint decides, inside a savepoint), a given prefix that is taken raises
    PrefixError."""
    wanted = check_prefix(prefix) if prefix else ""
    tried: set[str] = set()
    while True:
        tenant.reference_prefix = wanted or choose_prefix(tenant.slug, taken_prefixes() | tried)
        try:
            with transaction.atomic():
                tenant.save()
            return
        except IntegrityError as exc:
            if not _is_prefix_conflict(exc):
                raise
            if wanted:  # taken since it was checked
                check_prefix(wanted)  # raises the "taken" message
                raise
            tried.add(tenant.reference_prefix)
            tenant.pk = None  # the insert was rolled back: insert again


def assign_prefix(schema_name: str, prefix: str, *,
                  allowed: Callable[[], None] | None = None) -> str:
    """Give the tenant of `schema_name` the reference prefix `prefix` (normalised, returned).

    The tenant's row is locked first, then `allowed()` runs (services: raises PrefixError
    once a reference has been given out): a reference given out at the same moment either
    waits for the change and gets the new prefix, or is seen by `allowed()`.
    """
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(schema_name=schema_name)
        prefix = check_prefix(prefix, tenant.pk)
        if tenant.reference_prefix == prefix:
            return prefix
        if allowed is not None:
            allowed()
        tenant.reference_prefix = prefix
        try:
            with transaction.atomic():
                tenant.save(update_fields=["reference_prefix", "updated_at"])
        except IntegrityError as exc:
            if _is_prefix_conflict(exc):
                check_prefix(prefix, tenant.pk)  # taken meanwhile: raises the message
            raise
    return prefix


def prefix_of(schema_name: str, *, lock: bool = False) -> str:
    """The prefix of the tenant of `schema_name` ("" if none). With `lock`, read under a lock
    that an `assign_prefix` in progress waits for (or is waited for) until the caller's
    transaction ends: call it so inside that transaction, before taking a number."""
    if not lock:
        return (Tenant.objects.filter(schema_name=schema_name)
                .values_list("reference_prefix", flat=True).first() or "")
    with connection.cursor() as cursor:
        # FOR KEY SHARE: submissions do not wait for one another, nor for status changes;
        # only for assign_prefix's FOR UPDATE.
        cursor.execute(f"SELECT reference_prefix FROM {Tenant._meta.db_table} "  # noqa: S608 - the model's own table name, the value as a parameter # nosec B608
                       "WHERE schema_name = %s FOR KEY SHARE", [schema_name])
        row = cursor.fetchone()
    return row[0] if row else ""


def prefix_and_number(schema_name: str, sequence: str) -> tuple[str, int] | None:
    """`prefix_of(schema_name, lock=True)` and the next value of `sequence` (the caller's
    schema's, by name), in one statement: the tenant's row is locked (a materialized CTE,
    evaluated first) before the number is taken, as two statements would. None when the
    schema has no tenant row (nothing taken then)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH tenant AS MATERIALIZED (SELECT reference_prefix FROM {Tenant._meta.db_table} "  # noqa: S608 - the model's own table name, values as parameters # nosec B608
            "WHERE schema_name = %s FOR KEY SHARE) "
            "SELECT reference_prefix, nextval(%s::regclass) FROM tenant", [schema_name, sequence])
        row = cursor.fetchone()
    return (row[0] or "", row[1]) if row else None
