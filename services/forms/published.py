"""The published service at its address, kept in the tenant's cache between publishes.

Every step of an application (form, check your answers, submit, confirmation) starts by
finding the published service at /<lang>/apply/<slug>/: a join of the service with its
Wagtail page, a language-preferring ORDER BY and the page model built, about a fifth of the
CPU of a submit. `service_at(slug, language)` keeps what that lookup found in the tenant's
cache (tenants/tenant_cache.py) until any page, online service or form version of the
tenant is saved or deleted: publishing, unpublishing, renaming, moving or deleting a page and
closing a form take effect on the next request, in every process.
"""

import hashlib

from wagtail.models import Page

from tenants import tenant_cache

from .models import FormVersion, OnlineService

# Any page (its slug, live flag and locale decide the address; a service page's fields are
# shown with the form), the online service and its form versions.
tenant_cache.watch(Page, OnlineService, FormVersion)


def service_at(slug: str, language: str | None = None):
    """The published service whose page has `slug` now, in `language`'s catalogue first
    (OnlineService.objects.at_slug, with its page), from the cache when nothing changed
    since it was read; None if there is none (not kept). Each call returns an instance of
    its own."""
    return tenant_cache.remember(entry_name(slug, language),
                                 lambda: OnlineService.objects.at_slug(slug, language))


def entry_name(slug: str, language: str | None) -> str:
    # Any slug Wagtail allows (Cyrillic, long), or whatever a visitor typed: hashed into a
    # short ASCII key that every cache backend takes.
    digest = hashlib.blake2b(f"{language}\x00{slug}".encode(), digest_size=16).hexdigest()
    return f"published:{digest}"
