"""What the public endpoints read: live, public pages of the requesting site, with everything
their serializers need fetched in a fixed number of queries (child rows prefetched, the online
form's existence annotated), and the filters applied in the database."""

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Exists, OuterRef, Prefetch, Q
from wagtail.models import Page, PageViewRestriction, Site
from wagtail.rich_text import expand_db_html

from cms.models import NewsPage, OfficePage, OpeningException, ServicePage
from services.models import OnlineService

#: Text search configurations of the site's languages (PostgreSQL full-text search).
SEARCH_CONFIGS = ("russian", "english")


def public_pages(request, model):
    """Live pages of `model` under the requesting site's root (in every language), minus pages
    behind a view restriction (password, sign-in, groups) and their descendants.

    Wagtail's API v2 reads the same (wagtail.api.querysets.get_public_pages_queryset), but also
    lets `?site=` pick another site; this API answers for the host called, nothing else."""
    site = Site.find_for_request(request)
    if site is None:
        return model.objects.none()
    roots = list(Page.objects.filter(
        translation_key=Page.objects.filter(pk=site.root_page_id).values("translation_key")[:1],
    ).values_list("path", flat=True))
    if not roots:
        return model.objects.none()
    under_site = Q()
    for path in roots:
        under_site |= Q(path__startswith=path)
    queryset = exclude_restricted(model.objects.live().filter(under_site), restricted_paths())
    return queryset.select_related("locale")


def restricted_paths():
    """Tree paths of the pages behind a view restriction (their descendants are too)."""
    return list(PageViewRestriction.objects.values_list("page__path", flat=True))


def exclude_restricted(queryset, paths):
    for path in paths:
        queryset = queryset.exclude(path__startswith=path)
    return queryset


def text_search(queryset, text, *fields):
    """Pages whose `fields` match `text` in Russian or English (stemmed: "паспорта" finds
    "паспорт"), or whose title contains it as typed."""
    match = Q(title__icontains=text)
    for config in SEARCH_CONFIGS:
        name = f"_search_{config}"
        queryset = queryset.annotate(**{name: SearchVector(*fields, config=config)})
        match |= Q(**{name: SearchQuery(text, config=config, search_type="websearch")})
    return queryset.filter(match)


def services(request):
    online_form = OnlineService.objects.filter(page=OuterRef("pk"))
    return (public_pages(request, ServicePage)
            .annotate(has_online_form=Exists(online_form),
                      accepting_online=Exists(online_form.filter(accepting=True)))
            .prefetch_related("channels"))


def filter_services(queryset, *, q=None, life_event=None, category=None, online=None):
    if q:
        queryset = text_search(queryset, q, "title", "summary")
    if life_event:
        queryset = queryset.filter(life_events__contains=[life_event])
    if category:
        queryset = queryset.filter(category=category)
    if online is not None:
        is_online = Q(has_online_form=True) | ~Q(apply_url="")
        queryset = queryset.filter(is_online if online else ~is_online)
    return queryset


def offices(request):
    services = exclude_restricted(ServicePage.objects.live().only("id", "path").order_by("id"),
                                  restricted_paths())
    return (public_pages(request, OfficePage)
            .prefetch_related("hours",
                              Prefetch("exceptions",
                                       queryset=OpeningException.objects.order_by("date")),
                              Prefetch("services", queryset=services)))


def news(request):
    return public_pages(request, NewsPage)


def common_filters(queryset, *, locale=None, updated_since=None):
    if locale:
        queryset = queryset.filter(locale__language_code=locale)
    if updated_since:
        queryset = queryset.filter(last_published_at__gte=updated_since)
    return queryset


def expand_rich_text(pages, fields):
    """Each page's rich text `fields` as HTML (internal links made real addresses), set as
    `<field>_html`: one call for all of them, so internal links cost one query per list, not
    one per page. NUL separates the values: PostgreSQL text never holds it."""
    values = [getattr(page, field) or "" for page in pages for field in fields]
    if not values:
        return
    expanded = iter(expand_db_html("\x00".join(values)).split("\x00"))
    for page in pages:
        for field in fields:
            setattr(page, f"{field}_html", next(expanded))
