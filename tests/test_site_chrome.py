"""The site's chrome from the tenant's cache (cms/chrome.py on tenants/tenant_cache.py): the
Wagtail site of the host, the branding, the language's Locale, alert banners and footer links
are read from the database once, then from the cache until an editor changes one of them;
never another tenant's; a banner appears and goes on time without a save; without Redis the
database answers. Real PostgreSQL; the cache is the test settings' per-process one, keyed like
Redis by schema (a real Redis where it is stopped)."""

import io
import re
from datetime import timedelta
from html import escape

import pytest
from django.core.files.images import ImageFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image as PILImage
from wagtail.images.models import Image
from wagtail.models import Locale, Site

from cms import chrome
from cms.models import AlertBanner, BrandingSettings, FooterLink, HomePage, NewsIndexPage
from tenants import tenant_cache
from tenants.models import Domain

from .factories import NORTH, SOUTH

pytestmark = pytest.mark.django_db
PAGE = "/ru/services/building-permit/"
#: Statements of a warm published service page (an anonymous reader, the tenant's cache
#: filled): none. The site's chrome (site, branding, locale by language, alert banners,
#: footer links) comes from here, the page and its content from cms/page_cache.py
#: (tests/test_page_cache.py); cold, each chrome table is read.
#: bench/serve.py measures what they cost; a change that adds one should say why.
PAGE_QUERIES = 0
CHROME_TABLES = ("wagtailcore_site", "cms_brandingsettings", "cms_alertbanner",
                 "cms_footerlink")


def png(name):
    buffer = io.BytesIO()
    PILImage.new("RGB", (120, 80), (29, 79, 145)).save(buffer, "PNG")
    return ImageFile(buffer, name=name)


def body(client, host=NORTH, path=PAGE):
    response = client.get(path, **host)
    assert response.status_code == 200
    return response.content.decode()


def header_name(page):
    return re.search(r'<span class="govuk-header__product-name">(.*?)</span>', page).group(1)


def in_russian(tenant, model):
    with tenant_context(tenant):
        return list(model.objects.filter(locale__language_code="ru"))


def test_a_warm_page_reads_none_of_the_chrome_from_the_database(client, tenant_a):
    body(client)  # the tenant's cache filled
    tenant_cache.forget_all()  # and forgotten: the next request reads the chrome again
    with CaptureQueriesContext(connection) as cold:
        body(client)
    with CaptureQueriesContext(connection) as warm:
        page = body(client)
    assert len(warm) == PAGE_QUERIES
    warm_sql = " ".join(query["sql"] for query in warm.captured_queries)
    cold_sql = " ".join(query["sql"] for query in cold.captured_queries)
    for table in CHROME_TABLES:
        assert f'"{table}"' in cold_sql and f'"{table}"' not in warm_sql
    # ... and what the cache holds is what the database says (the demo's Russian texts).
    with tenant_context(tenant_a):
        branding = BrandingSettings.objects.get()
        shown = AlertBanner.objects.active().filter(locale__language_code="ru")
        assert shown.exists()
        titles = [alert.title for alert in shown]
    assert header_name(page) == escape(branding.site_name) == "Северная область"
    assert all(escape(title) in page for title in titles)
    links = in_russian(tenant_a, FooterLink)
    assert links and all(f'href="{link.url}">{escape(link.title)}</a>' in page for link in links)


def test_the_branding_keeps_its_images(client, tenant_a):
    """The logo and coat of arms are read with the branding (select_related), so the copy in
    the cache shows them without reading the images again."""
    with tenant_context(tenant_a):
        branding = BrandingSettings.objects.get()
        branding.coat_of_arms = Image.objects.create(title="Герб", file=png("gerb.png"))
        branding.logo = Image.objects.create(title="Логотип", file=png("logo.png"))
        branding.save()
    body(client)
    with CaptureQueriesContext(connection) as warm:
        page = body(client)
    assert page.count('class="dgbox-coat-of-arms') == 2  # both images in the header
    assert not any('"wagtailimages_image"' in query["sql"] for query in warm.captured_queries)


def test_an_editors_change_is_shown_on_the_next_request(client, tenant_a):
    body(client)
    body(client)  # from the cache
    name = 'Администрация «Ёлкино» & <Co> "Север"'
    with tenant_context(tenant_a):
        branding = BrandingSettings.objects.get()
        branding.site_name = name
        branding.save()
    assert header_name(body(client)) == escape(name)

    with tenant_context(tenant_a):
        banner = AlertBanner.objects.create(
            locale=Locale.objects.get(language_code="ru"), title="Отключение воды 7 декабря",
            message="С 9:00 до 18:00 <ул. Ленина>", level=AlertBanner.Level.EMERGENCY)
    page = body(client)
    assert escape(banner.title) in page and escape(banner.message) in page

    link = in_russian(tenant_a, FooterLink)[0]
    with tenant_context(tenant_a):
        link.title = "Обратная связь & жалобы"
        link.save()
    assert f'href="{link.url}">{escape(link.title)}</a>' in body(client)
    with tenant_context(tenant_a):
        link.delete()
        banner.delete()
    page = body(client)
    assert escape(link.title) not in page and escape(banner.title) not in page


def test_a_site_given_the_host_serves_it_from_the_next_request(client, tenant_a):
    """Another host of the tenant is served by the default site until a site of its own takes
    the host name (here: the news list as its home)."""
    Domain.objects.create(tenant=tenant_a, domain="sever.localhost", is_primary=False)
    other_host = {"HTTP_HOST": "sever.localhost"}
    with tenant_context(tenant_a):
        home = HomePage.objects.get(locale__language_code="ru")
        news = NewsIndexPage.objects.get(locale__language_code="ru")
        other = Site.objects.create(hostname="elsewhere.localhost", root_page=news)
    for _ in range(2):  # read, then from the cache
        assert client.get("/ru/", **other_host).context["page"].pk == home.pk
    with tenant_context(tenant_a):
        other.hostname = "sever.localhost"
        other.save()
    assert client.get("/ru/", **other_host).context["page"].pk == news.pk
    assert client.get("/ru/", **NORTH).context["page"].pk == home.pk


def test_a_banner_is_shown_from_its_start_to_its_end_without_a_save(
        tenant_a, django_assert_num_queries):
    """The cache keeps the banners not ended yet; each page picks those shown at its moment,
    as the database would (AlertQuerySet.active), ends and starts included."""
    now = timezone.now()
    starts, ends = now + timedelta(hours=1), now + timedelta(hours=3)
    with tenant_context(tenant_a):
        ru = Locale.objects.get(language_code="ru")
        planned = AlertBanner.objects.create(locale=ru, title="Плановые работы в МФЦ",
                                             message="Приём не ведётся.", starts_at=starts,
                                             ends_at=ends)
        moments = [now, starts - timedelta(seconds=1), starts, ends - timedelta(seconds=1),
                   ends, now + timedelta(days=30)]
        expected = [list(AlertBanner.objects.active(moment).filter(locale=ru)
                         .values_list("pk", flat=True)) for moment in moments]
        assert [planned.pk in pks for pks in expected] == [False, False, True, True, False,
                                                           False]
        chrome.alerts("ru")  # read once, now
        with django_assert_num_queries(0):
            shown = [[banner.pk for banner in chrome.alerts("ru", now=moment)]
                     for moment in moments]
    assert shown == expected


def test_each_tenant_sees_only_its_own_chrome_also_when_cached(client, tenant_a, tenant_b):
    """Both tenants' rows have the same ids (their schemas come from one template) and the
    same entry names; each host shows its own, whichever tenant was read first."""
    ids = []
    for tenant, mark in ((tenant_a, "Северный-знак"), (tenant_b, "Южный-знак")):
        with tenant_context(tenant):
            branding = BrandingSettings.objects.get()
            ids.append(branding.pk)
            branding.site_name = f"Сайт {mark}"
            branding.save()
            ru = Locale.objects.get(language_code="ru")
            AlertBanner.objects.create(locale=ru, title=f"Тревога {mark}", message="Текст.")
            FooterLink.objects.create(locale=ru, title=f"Ссылка {mark}", url="/ru/contact/")
    assert ids[0] == ids[1]
    for _ in range(2):  # read, then from the cache
        north, south = body(client, NORTH), body(client, SOUTH)
        for page, own, other in ((north, "Северный-знак", "Южный-знак"),
                                 (south, "Южный-знак", "Северный-знак")):
            assert header_name(page) == f"Сайт {own}"
            assert f"Тревога {own}" in page and f"Ссылка {own}" in page
            assert other not in page


def test_with_redis_down_the_page_is_served_and_edits_are_seen(client, tenant_a,
                                                                redis_counters):
    """A real Redis, stopped: every entry is a miss, the database answers (the process keeps
    nothing it could not check against the tenant's generation)."""
    assert header_name(body(client)) == "Северная область"
    body(client)  # from Redis and the process
    redis_counters.stop()
    with tenant_context(tenant_a):
        branding = BrandingSettings.objects.get()
        branding.site_name = "Без Redis"
        branding.save()
        titles = [alert.title for alert in
                  AlertBanner.objects.active().filter(locale__language_code="ru")]
    for _ in range(2):
        page = body(client)
        assert header_name(page) == "Без Redis"
        assert titles and all(escape(title) in page for title in titles)
