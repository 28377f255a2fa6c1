"""Rules for tenant names, slugs and domains, with messages a person can act on."""

import re

from anyascii import anyascii
from django.core.exceptions import ValidationError
from django.utils.text import slugify

# Slugs become both a DNS label (<slug>.<base>) and a schema name (hyphens -> underscores).
# Lowercase latin letters, digits and single hyphens; starts with a letter.
SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){1,62}$")
DOMAIN_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

RESERVED_SLUGS = frozenset({
    "public", "www", "admin", "api", "app", "static", "media", "mail", "smtp", "ftp", "cdn",
    "status", "help", "support", "portal", "gov", "national", "operator", "console", "auth",
    "login", "account", "accounts", "test", "information-schema", "template", "default",
})


def slug_to_schema(slug: str) -> str:
    return slug.replace("-", "_")


def suggest_slug(name: str) -> str:
    """Transliterate a (e.g. Cyrillic) name into a slug candidate: 'Рябиновка' -> 'ryabinovka'."""
    return slugify(anyascii(name or "")).strip("-")[:63].strip("-")


def check_slug(slug: str) -> None:
    if not slug:
        raise ValidationError("The slug is empty: give --slug or a name with latin letters.",
                              code="empty")
    if not SLUG_RE.match(slug):
        raise ValidationError(
            f"Slug '{slug}' is not valid: use 2-63 lowercase latin letters, digits and single "
            "hyphens, starting with a letter (it becomes the web address and the database "
            "schema name).",
            code="invalid",
        )
    schema = slug_to_schema(slug)
    reserved_schema = schema.startswith(("pg_", "dgbox_")) or schema == "information_schema"
    if slug in RESERVED_SLUGS or reserved_schema:
        raise ValidationError(f"Slug '{slug}' is reserved by the platform; choose another.",
                              code="reserved")


def check_domain(domain: str) -> None:
    labels = domain.split(".")
    if len(domain) > 253 or not all(DOMAIN_LABEL_RE.match(label) for label in labels):
        raise ValidationError(
            f"Domain '{domain}' is not a valid host name (lowercase letters, digits, hyphens "
            "and dots, no port).",
            code="domain",
        )
