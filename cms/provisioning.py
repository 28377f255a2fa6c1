"""What a fresh tenant site gets at launch, and what the template must not carry."""

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override
from wagtail.models import Locale, Page, PageLogEntry, ReferenceIndex, Site
from wagtail.search import index

from tenants.signals import template_migrated, tenant_launched

from .models import (
    BrandingSettings,
    HomePage,
    NewsIndexPage,
    OfficeIndexPage,
    ServiceIndexPage,
    StandardPage,
)

DEFAULT_PAGES = [
    # slug, title, summary, body
    ("contact", gettext_noop("Contact us"),
     gettext_noop("How to reach us: offices, phone and e-mail."),
     gettext_noop("<p>Write to us or visit one of our offices. Opening hours are on each "
                  "office page.</p>")),
    ("accessibility", gettext_noop("Accessibility statement"),
     gettext_noop("How accessible this website is and how to report a problem."),
     gettext_noop("<p>We want as many people as possible to be able to use this website. It "
                  "aims to meet the Web Content Accessibility Guidelines (WCAG) 2.2 at level "
                  "AA. If something does not work for you, tell us on the contact page.</p>")),
    ("privacy", gettext_noop("Privacy notice"),
     gettext_noop("What personal data we process, why, and your rights."),
     gettext_noop("<p>We only process the personal data needed to provide the services you "
                  "ask for, keep it for a limited time and never share it with other "
                  "municipalities or regions.</p>")),
]


# The site every tenant starts with is built once, in the template schema, under these
# stand-in values; a launch only puts the tenant's own in (`create_site`). ".invalid" is a
# name no real host can have (RFC 2606), so a prepared site is never mistaken for a tenant's.
PREPARED_HOSTNAME = "prepared-site.invalid"
PREPARED_NAME = "dgbox"


@receiver(template_migrated, dispatch_uid="cms-scrub-template")
def scrub_template(schema_name, **_kwargs):
    """Wagtail's migrations create a "Welcome" page and a localhost site; tenants get their own,
    prepared here once (pages, site, branding, search entries) so that a launch only fills in
    the tenant's name, host and language. Both content languages are prepared too.

    A schema whose prepared site is already there and current (`prepared_site_is_current`:
    a spare migrated in place by a rollout, or the template itself) keeps it: seven reads
    instead of the some 460 queries of scrubbing and building it again."""
    if prepared_site_is_current():
        return
    Site.objects.all().delete()
    for page in Page.objects.filter(depth=2):
        page.delete()
    for code in ("ru", "en"):
        Locale.objects.get_or_create(language_code=code)
    _build_site(PREPARED_NAME, settings.LANGUAGE_CODE, PREPARED_HOSTNAME, 80)


@receiver(tenant_launched, dispatch_uid="cms-create-site")
def create_site(tenant, options, **_kwargs):
    """Home page, catalogue, news and office lists, the pages every public body must publish,
    the Wagtail site and its branding, in the tenant's default language.

    The schema normally comes with them prepared (`scrub_template`): about 30 queries instead
    of 230. A schema replayed from a snapshot taken before sites were prepared gets them built
    here, the slow way."""
    site = (Site.objects.filter(hostname=PREPARED_HOSTNAME).select_related("root_page").first()
            or _build_site(PREPARED_NAME, settings.LANGUAGE_CODE, PREPARED_HOSTNAME, 80))
    _personalise(site, tenant, options)


# The pages of a prepared site under its home page, by slug, and their types.
LAUNCH_PAGE_TYPES = {"services": ServiceIndexPage, "news": NewsIndexPage,
                     "offices": OfficeIndexPage,
                     **{slug: StandardPage for slug, *_texts in DEFAULT_PAGES}}


def prepared_site_is_current() -> bool:
    """Whether the current schema holds exactly the site `_build_site` would prepare now: one
    site, the prepared one, whose home page is the only page under the root; the same pages
    (slug, type, depth, locale, texts in this release's translations, published); its branding;
    both content languages. Seven queries; anything else (a "Welcome" page or localhost site
    a migration created, a text this release changed, a page missing) answers False."""
    sites = list(Site.objects.values_list("pk", "hostname", "port", "site_name",
                                          "is_default_site", "root_page_id"))
    if len(sites) != 1 or sites[0][1:5] != (PREPARED_HOSTNAME, 80, PREPARED_NAME, True):
        return False
    site_pk, home_pk = sites[0][0], sites[0][5]
    if list(Page.objects.filter(depth=2).values_list("pk", flat=True)) != [home_pk]:
        return False
    if not {"ru", "en"} <= set(Locale.objects.values_list("language_code", flat=True)):
        return False
    with override(settings.LANGUAGE_CODE):
        texts = _page_texts(PREPARED_NAME)
    types = {"home": HomePage, **LAUNCH_PAGE_TYPES}
    expected = {(slug, 2 if slug == "home" else 3, model._meta.app_label,
                 model._meta.model_name, texts[slug]["title"], texts[slug]["title"],
                 settings.LANGUAGE_CODE, True) for slug, model in types.items()}
    pages = list(Page.objects.filter(depth__gt=1).values_list(
        "slug", "depth", "content_type__app_label", "content_type__model", "title",
        "draft_title", "locale__language_code", "live"))
    if len(pages) != len(expected) or set(pages) != expected:
        return False
    if list(HomePage.objects.values_list("pk", "intro")) != [(home_pk, texts["home"]["intro"])]:
        return False
    standard = {slug: (texts[slug]["summary"], texts[slug]["body"])
                for slug, model in LAUNCH_PAGE_TYPES.items() if model is StandardPage}
    if {slug: (summary, str(body)) for slug, summary, body in
            StandardPage.objects.values_list("slug", "summary", "body")} != standard:
        return False
    return list(BrandingSettings.objects.values_list("site_id", "site_name")) == [
        (site_pk, PREPARED_NAME)]


def _page_texts(name: str) -> dict[str, dict[str, str]]:
    """The texts of the launch pages in the active language, by slug."""
    texts = {
        "home": {"title": name, "intro": _("Official website of %(name)s: services, news and "
                                           "offices.") % {"name": name}},
        "services": {"title": _("Services")},
        "news": {"title": _("News")},
        "offices": {"title": _("Offices")},
    }
    for slug, title, summary, body in DEFAULT_PAGES:
        texts[slug] = {"title": _(title), "summary": _(summary), "body": _(body)}
    return texts


def _build_site(name: str, language: str, hostname: str, port: int) -> Site:
    root = Page.get_first_root_node()
    locale = Locale.objects.get(language_code=language)
    with override(language):
        texts = _page_texts(name)
    home = root.add_child(instance=HomePage(slug="home", locale=locale, **texts["home"]))
    for slug, page_type in LAUNCH_PAGE_TYPES.items():
        home.add_child(instance=page_type(slug=slug, locale=locale, **texts[slug]))
    # Wagtail writes absolute links (the open API's html_url and detail_url) from the site's
    # port: the one launch passes (tenants.addresses.site_port); routing is by host name and
    # schema, so a site answers on any port.
    site = Site.objects.create(hostname=hostname, port=port, root_page=home,
                               is_default_site=True, site_name=name)
    BrandingSettings.objects.create(site=site, site_name=name)
    return site


def _personalise(site: Site, tenant, options) -> None:
    """Put the tenant's name, host and language into a prepared site, with bulk updates; the
    search index and reference index are brought in step for what changed. Page ids, tree
    paths and url paths do not change (the slugs are the same in every language)."""
    language = tenant.default_language
    home = site.root_page
    pages = {page.slug: page for page in home.get_descendants(inclusive=True).specific()}
    with override(language):
        texts = _page_texts(tenant.name)
    locale = Locale.objects.get(language_code=language)
    relocalise = pages["home"].locale_id != locale.pk
    changed = list(pages.values()) if relocalise else [pages["home"]]
    for page in changed:
        for field_name, value in texts[page.slug].items():
            setattr(page, field_name, value)
        page.draft_title = page.title
        if relocalise:
            page.locale = locale
    Page.objects.bulk_update(changed, ["title", "draft_title", "locale"])
    HomePage.objects.filter(pk=home.pk).update(intro=pages["home"].intro)
    if relocalise:
        StandardPage.objects.bulk_update(
            [page for page in changed if isinstance(page, StandardPage)], ["summary", "body"])
    now = timezone.now()
    # The prepared pages' history carries the template's refresh time: the tenant's starts
    # now; and its pages get translation keys of their own, not every tenant's same ones.
    Page.objects.filter(depth__gt=1).update(translation_key=RandomUUID())
    PageLogEntry.objects.filter(page__depth__gt=1).update(timestamp=now)
    for page in changed:
        index.insert_or_update_object(page)
        if relocalise:
            ReferenceIndex.create_or_update_for_object(page)
    site.hostname = options["domain"]
    site.port = options.get("port", 80)
    site.site_name = tenant.name
    site.save(update_fields=["hostname", "port", "site_name"])  # clears Wagtail's site cache
    BrandingSettings.objects.filter(site=site).update(site_name=tenant.name)


def set_site_port(port: int) -> None:
    """Put `port` in the current tenant's Wagtail sites, so the absolute links Wagtail writes
    from them carry it: `dgbox demo --port N` serves tenants launched on another port."""
    for site in Site.objects.exclude(port=port):
        site.port = port
        site.save(update_fields=["port"])  # Wagtail's post_save clears its cached site roots
