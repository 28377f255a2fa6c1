"""Slug and domain rules (pure functions, no database)."""

import pytest
from django.core.exceptions import ValidationError

from tenants.launch.validation import check_domain, check_slug, slug_to_schema, suggest_slug


@pytest.mark.parametrize(("name", "slug"), [
    ("Рябиновка", "ryabinovka"),
    ("Северная область", "severnaya-oblast"),
    ("Нижний Новгород", "nizhniy-novgorod"),
    ("Saint-Étienne", "saint-etienne"),
    ("  ", ""),
])
def test_suggest_slug_transliterates(name, slug):
    assert suggest_slug(name) == slug


@pytest.mark.parametrize("slug", ["ab", "north", "nizhny-novgorod", "a1-b2", "x" * 63])
def test_good_slugs(slug):
    check_slug(slug)
    assert slug_to_schema(slug).replace("_", "").isalnum()


@pytest.mark.parametrize("slug", ["", "a", "1town", "-town", "town-", "to--wn", "to_wn", "Town",
                                  "город", "x" * 64, "public", "pg-toast", "dgbox-spare-1",
                                  "information-schema"])
def test_bad_slugs(slug):
    with pytest.raises(ValidationError):
        check_slug(slug)


@pytest.mark.parametrize("domain", ["gov.example", "a-b.c.example", "xn--80ak6aa92e.example"])
def test_good_domains(domain):
    check_domain(domain)


@pytest.mark.parametrize("domain", ["bad domain", "-a.example", "a_b.example", "a..b",
                                    "x" * 64 + ".example", "host:8000"])
def test_bad_domains(domain):
    with pytest.raises(ValidationError):
        check_domain(domain)
