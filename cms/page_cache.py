"""Published pages from the tenant's cache: the page at an address and what its content
renders to, read from the database once, then from the cache until an editor changes
something (tenants/tenant_cache.py).

Without it a warm service page runs fifteen statements on seven tenant tables: the route down
the page tree (each level's page, then its specific row), the ancestors' view restrictions,
the page's Locale, its online form, channels and offices. Each tenant table costs PostgreSQL
a catalog load the first time a connection meets the tenant (docs/scaling.md), which is
what a process serving a thousand tenants pays on most requests. With it a warm page runs
none of them: what is left of the request is rendering the site's chrome around cached
content, the same work plain Wagtail does.

Two entries, both in the tenant's cache, so both are stale when any page, view restriction,
online service, form version, site, image or other watched row of the tenant is saved or
deleted (at once and at commit):

- **the route**: `serve` is Wagtail's serve view (wagtail.views.serve) with the page found
  in the cache by site, language and path: the specific page with its Locale, and the view
  restrictions of it and its ancestors. Wagtail's own hooks then run as always (the view
  restrictions are checked on every request against the cached list, so a private page is
  as private as before); a GET or HEAD only, and only a route without arguments (a
  RoutablePage's sub-route is routed by Wagtail every time).
- **the content**: `{% page_fragment "name" %}...{% endpage_fragment %}` (cms/templatetags/
  dgbox_tags.py) keeps what its body rendered for that page, site and language; for a page
  type whose content depends on the day (`content_by_day = True`, as an office's coming
  closures do) on that date only, so that no other page is rendered again at midnight
  (every tenant's at once, in a process serving many). Only on a page
  served through `serve` without a query string (a filter or a thank-you message changes
  what is shown), never in a preview (a draft), and never a body that holds a CSRF token
  or a CSP nonce (each request's own): those are rendered every time. Not with DEBUG on
  (`make demo`): a template edited while the server runs shows on the next request.

Entries are per release (`tenant_cache.release()`, a digest of the code and templates), so
HTML rendered by one release is never shown by the next, even during a rolling deploy.

What a fragment must not hold: anything that depends on who reads it (the request's user),
on the time of day, or on a row the tenant's cache does not watch (a template that shows one
says so and stays outside). The national registers (public schema) are the exception: they
change with a release, which starts from fresh entries.
"""

import datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from wagtail.documents import get_document_model
from wagtail.models import Page, PageViewRestriction
from wagtail.views import serve as wagtail_serve

from tenants import tenant_cache

from . import chrome

# The route holds the page and its ancestors' view restrictions; the fragments hold what
# the page's children, online form (services/forms/published.py watches OnlineService),
# channels (saved with their page) and links to documents rendered.
tenant_cache.watch(Page, PageViewRestriction, get_document_model())

#: What the route entry holds for an address Wagtail routes with arguments (kept, so the
#: page tree is not walked twice on each such request).
NOT_KEPT = "not kept"
#: Markers of a request's own values: a fragment holding one is rendered every time.
OWN_VALUES = ("csrfmiddlewaretoken", ' nonce="')


def serve(request: HttpRequest, path: str) -> HttpResponse:
    """Wagtail's serve view, the page found in the tenant's cache when it can be."""
    if request.method in ("GET", "HEAD"):
        _route_from_cache(request, path)
    return wagtail_serve(request, path)


def _route_from_cache(request: HttpRequest, path: str) -> None:
    site = chrome.site_for(request)
    if site is None:
        return
    language = translation.get_language()
    entry = tenant_cache.remember(f"route:{site.pk}:{language}:{path}",
                                  lambda: _route(request, path))
    if entry is None or entry == NOT_KEPT:
        return
    page, restrictions = entry
    # An attribute of this copy of the page, read by Wagtail's check_view_restrictions hook:
    # the restrictions as they were when the route was kept (a change to one is a change).
    page.get_view_restrictions = lambda: restrictions
    request._wagtail_route_for_request = (page, [], {})
    request._dgbox_cached_page = page


def _route(request: HttpRequest, path: str):
    """What the route entry keeps: the page and the view restrictions over it (None for an
    address with no page: not kept, Wagtail answers 404 every time)."""
    found = Page.route_for_request(request, path)
    if found is None:
        return None
    page, args, kwargs = found
    if args or kwargs:
        return NOT_KEPT
    restrictions = list(page.get_view_restrictions())
    page.locale  # noqa: B018 - read now, kept with the page
    # The parents Wagtail's route left on the page: not kept (a smaller entry; nothing the
    # page's templates show reads them outside a fragment).
    page.__dict__.pop("_cached_parent_obj", None)
    return page, restrictions


def fragment_key(request, page, name: str) -> str | None:
    """The cache entry of fragment `name` of `page` in this request, None if the request
    must render it (not a page served from `serve`, a query string, a preview)."""
    if (request is None or page is None or getattr(request, "_dgbox_cached_page", None)
            is not page or request.GET or getattr(request, "is_preview", False)
            or settings.DEBUG):
        return None
    site = chrome.site_for(request)
    key = f"fragment:{name}:{site.pk}:{page.pk}:{translation.get_language()}"
    if getattr(page, "content_by_day", False):
        key = f"{key}:{datetime.date.today().isoformat()}"
    return key


def render_fragment(request, page, name: str, render) -> str:
    """`render()`, from the tenant's cache when the request allows it (`fragment_key`)."""
    key = fragment_key(request, page, name)
    if key is None:
        return render()
    rendered = []

    def compute():
        rendered.append(render())
        return None if any(mark in rendered[0] for mark in OWN_VALUES) else rendered[0]

    kept = tenant_cache.remember(key, compute)
    return kept if kept is not None else rendered[0]
