"""What a fresh tenant site gets at launch, and what the template must not carry."""

from django.dispatch import receiver
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, override
from wagtail.models import Locale, Page, Site

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


@receiver(template_migrated, dispatch_uid="cms-scrub-template")
def scrub_template(schema_name, **_kwargs):
    """Wagtail's migrations create a "Welcome" page and a localhost site; tenants get their own.
    Both content languages are prepared once here so every tenant has them."""
    Site.objects.all().delete()
    for page in Page.objects.filter(depth=2):
        page.delete()
    for code in ("ru", "en"):
        Locale.objects.get_or_create(language_code=code)


@receiver(tenant_launched, dispatch_uid="cms-create-site")
def create_site(tenant, options, **_kwargs):
    """Home page, catalogue, news and office lists, the pages every public body must publish,
    the Wagtail site and its branding, in the tenant's default language."""
    root = Page.get_first_root_node()
    locale = Locale.objects.get(language_code=tenant.default_language)
    with override(tenant.default_language):
        home = root.add_child(instance=HomePage(
            title=tenant.name, slug="home", locale=locale,
            intro=_("Official website of %(name)s: services, news and offices.")
            % {"name": tenant.name},
        ))
        home.add_child(instance=ServiceIndexPage(title=_("Services"), slug="services",
                                                 locale=locale))
        home.add_child(instance=NewsIndexPage(title=_("News"), slug="news", locale=locale))
        home.add_child(instance=OfficeIndexPage(title=_("Offices"), slug="offices",
                                                locale=locale))
        for slug, title, summary, body in DEFAULT_PAGES:
            home.add_child(instance=StandardPage(
                title=_(title), slug=slug, locale=locale, summary=_(summary), body=_(body),
            ))
    # Wagtail writes absolute links (the open API's html_url and detail_url) from the site's
    # port: the one launch passes (tenants.addresses.site_port); routing is by host name and
    # schema, so a site answers on any port.
    site = Site.objects.create(
        hostname=options["domain"], port=options.get("port", 80), root_page=home,
        is_default_site=True,
        site_name=tenant.name,
    )
    BrandingSettings.objects.create(site=site, site_name=tenant.name)


def set_site_port(port: int) -> None:
    """Put `port` in the current tenant's Wagtail sites, so the absolute links Wagtail writes
    from them carry it: `dgbox demo --port N` serves tenants launched on another port."""
    for site in Site.objects.exclude(port=port):
        site.port = port
        site.save(update_fields=["port"])  # Wagtail's post_save clears its cached site roots
