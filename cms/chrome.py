"""The site's chrome: what every page of a tenant's site shows around its content, read from
the tenant's cache (tenants/tenant_cache.py) instead of the database.

The Wagtail site serving the host, its branding (site name, logo, coat of arms, colour,
contacts), the Locale of the page's language, the language's alert banners and footer links:
five queries on every page without the cache, each on a tenant table (and each tenant table a
request touches costs PostgreSQL a catalog load the first time a connection meets the tenant:
docs/scaling.md). Citizens read them on every page, only editors change them: saving or
deleting any of these rows (or a page, a locale, an image) makes every entry of the tenant
stale at once and again at commit, so an editor's change is shown from the next request on; a
change made around the ORM within `tenant_cache.SECONDS`.

Alert banners are a time window (shown from `starts_at`, until `ends_at`): the entry keeps the
language's banners that have not ended when it is read, those not started yet included, and
each page picks the ones shown at that moment, so a banner appears when it starts and goes
when it ends without anyone saving anything.
"""

from django.http.request import split_domain_port
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from wagtail.images import get_image_model
from wagtail.models import Locale, Page, Site

from tenants import tenant_cache

from .models import AlertBanner, BrandingSettings, FooterLink

# Page and Image: the site entry holds its root page, the branding its logo and coat of arms.
tenant_cache.watch(Site, Page, Locale, BrandingSettings, get_image_model(), AlertBanner,
                   FooterLink)


def site_for(request):
    """The Wagtail site serving `request`, as Wagtail's Site.find_for_request finds it (None if
    none matches), put where that looks first (`request._wagtail_site`)."""
    if not hasattr(request, "_wagtail_site"):
        hostname = split_domain_port(request._get_raw_host())[0]
        request._wagtail_site = tenant_cache.remember(
            f"site:{hostname}:{request.get_port()}", lambda: Site._find_for_request(request))
    return request._wagtail_site


def branding_for(request):
    """The branding of the request's site (with its images), None without a site. Made with
    the defaults if the site has none yet, as Wagtail's own `for_request` does."""
    site = site_for(request)
    if site is None:
        return None
    return tenant_cache.remember(f"branding:{site.pk}", lambda: BrandingSettings.for_site(site))


def locale_for(language):
    """The tenant's Locale of `language` (a code such as "ru"), None if it has none."""
    return tenant_cache.remember(
        f"locale:{language}", lambda: Locale.objects.filter(language_code=language).first())


def alerts(language, now=None):
    """The alert banners of `language` shown at `now` (default: this moment), in AlertBanner's
    order."""
    kept = tenant_cache.remember(
        f"alerts:{language}",
        lambda: _in_locale(language, AlertBanner.objects.not_ended(timezone.now())))
    now = now or timezone.now()
    return [banner for banner in kept if banner.is_shown_at(now)]


def footer_links(language):
    """The footer links of `language`, in their order."""
    return tenant_cache.remember(f"footer-links:{language}",
                                 lambda: _in_locale(language, FooterLink.objects.all()))


def _in_locale(language, queryset):
    # A language the tenant has no Locale for: every language's (as before the cache).
    locale = locale_for(language)
    return list(queryset.filter(locale=locale) if locale else queryset)


def template_context(request):
    """Context processor: `branding`, read from the cache when a template uses it."""
    return {"branding": SimpleLazyObject(lambda: branding_for(request))}
