"""Searching the national catalogue: text with Russian and English stemming, life event,
territory (a region with its municipalities), available online, language.

Text goes through PostgreSQL's `websearch_to_tsquery` in both the 'russian' and the 'english'
configuration (either may match: "паспорта" finds "паспорт", "permits" finds "permit"), on the
generated, GIN-indexed vector of tenants.models.CatalogueEntry, ranked by `ts_rank` (title over
summary over the rest). Only when that finds nothing are the words tried as prefixes ("пасп"
finds "паспорт"), one more indexed query. Anything typed is safe: websearch_to_tsquery never
fails on syntax, and the prefix query is built from letters and digits only.
"""

import re
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.exceptions import ValidationError
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import Count, F, QuerySet, Window
from django.utils.translation import gettext as _

from tenants.models import CatalogueEntry, LifeEvent, Tenant

#: Longer queries are refused by the API (400) and cut by the portal page.
QUERY_MAX = 200
#: Words tried as prefixes when the full words find nothing.
PREFIX_WORDS_MAX = 6
LANGUAGES = ("ru", "en")
_WORD = re.compile(r"\w+")


class FilterError(ValidationError):
    """A filter names something that does not exist (an unknown life event or territory)."""


@dataclass(frozen=True)
class Filters:
    q: str = ""
    life_event: str = ""
    territory: str = ""  # a tenant's slug: a region includes its municipalities
    online: bool | None = None
    language: str = ""


def clean_text(text: str) -> str:
    """What PostgreSQL can take: no NUL (it refuses it in text), at most QUERY_MAX characters."""
    return text.replace("\x00", "").strip()[:QUERY_MAX]


def _text_query(q: str) -> SearchQuery:
    return (SearchQuery(q, config="russian", search_type="websearch")
            | SearchQuery(q, config="english", search_type="websearch"))


def _prefix_query(q: str) -> SearchQuery | None:
    words = [w.lower() for w in _WORD.findall(q) if w.replace("_", "")][:PREFIX_WORDS_MAX]
    words = [w.replace("_", "") for w in words]
    if not words:
        return None
    # Only \w characters and ':*' reach to_tsquery, so no input can break its syntax.
    raw = " & ".join(f"{w}:*" for w in words)
    return SearchQuery(raw, config="simple", search_type="raw")


def filtered(filters: Filters) -> QuerySet[CatalogueEntry]:
    """Listed entries matching every filter but the text (FilterError for unknown codes)."""
    entries = CatalogueEntry.objects.filter(visible=True)
    if filters.life_event:
        if not LifeEvent.objects.filter(code=filters.life_event).exists():
            raise FilterError(_("There is no life event “%(code)s”.")
                              % {"code": filters.life_event}, code="life_event")
        entries = entries.filter(life_events__contains=[filters.life_event])
    if filters.territory:
        tenant = (Tenant.objects.launched().filter(slug=filters.territory)
                  .values("pk", "kind").first())
        if tenant is None:
            raise FilterError(_("There is no region or municipality “%(code)s”.")
                              % {"code": filters.territory}, code="territory")
        if tenant["kind"] == Tenant.Kind.REGION:
            entries = entries.filter(region_id=tenant["pk"])
        else:
            entries = entries.filter(tenant_id=tenant["pk"])
    if filters.online is not None:
        entries = entries.filter(online=filters.online)
    if filters.language:
        if filters.language not in LANGUAGES:
            raise FilterError(_("Choose the language ru or en."), code="language")
        entries = entries.filter(language=filters.language)
    return entries


def matching(filters: Filters) -> tuple[QuerySet[CatalogueEntry], SearchQuery | None]:
    """Listed entries matching `filters`, unordered, and the text query that found them (None
    without text). With text and no match, the words are tried again as prefixes."""
    entries = filtered(filters)
    q = clean_text(filters.q)
    if not q:
        return entries, None
    query = _text_query(q)
    found = entries.filter(search=query)
    if not found.exists():  # stops at the first match: cheap however many there are
        prefix = _prefix_query(q)
        if prefix is not None:
            return entries.filter(search=prefix), prefix
    return found, query


def ranked(entries: QuerySet[CatalogueEntry],
           query: SearchQuery | None) -> QuerySet[CatalogueEntry]:
    """`entries` best first: by rank with a text query, else by title."""
    if query is None:
        return entries.order_by("title", "pk")
    return entries.annotate(rank=SearchRank(F("search"), query)).order_by("-rank", "title", "pk")


class _Known:
    """A paginator's object list of which only the length is known (counted already)."""

    def __init__(self, total: int) -> None:
        self.total = total

    def count(self) -> int:
        return self.total


def rows_and_total(entries: QuerySet[CatalogueEntry], ranked_by_text: bool, number: int,
                   size: int) -> tuple[list[CatalogueEntry], int]:
    """One page of `entries` (ordered by `ranked`) and the number of all of them.

    Ranked by text, every match is read to rank it anyway, so the total comes with the page
    (`count(*) OVER ()`, one pass instead of two). By title, the page is read in index order
    and stops after it, and the count is its own query (cheaper than sorting every match)."""
    window = slice((number - 1) * size, number * size)
    if not ranked_by_text:
        return list(entries[window]), entries.count()
    rows: list[CatalogueEntry] = list(entries.annotate(total=Window(Count("pk")))[window])
    total = int(getattr(rows[0], "total", 0)) if rows else (entries.count() if number > 1 else 0)
    return rows, total


def page_of(entries: QuerySet[CatalogueEntry], ranked_by_text: bool, number: object,
            size: int) -> "Page[CatalogueEntry]":
    """A page for the portal's template: a number that is not a page gives the first page,
    one past the end the last (as Paginator.get_page)."""
    try:
        wanted = max(1, int(str(number)))
    except ValueError:
        wanted = 1
    rows, total = rows_and_total(entries, ranked_by_text, wanted, size)
    paginator: Paginator[CatalogueEntry] = Paginator(_Known(total), size)  # type: ignore[arg-type]
    try:
        number = paginator.validate_number(wanted)
    except (EmptyPage, PageNotAnInteger):
        number = paginator.num_pages
    if not rows and total:  # past the end: the last page
        rows, _total = rows_and_total(entries, ranked_by_text, int(number), size)
    return Page(rows, number, paginator)


def search(filters: Filters) -> QuerySet[CatalogueEntry]:
    """Entries matching `filters`, best first, with their tenant (FilterError for unknown
    codes)."""
    return ranked(*matching(filters)).select_related("tenant")


def facets(entries: QuerySet[CatalogueEntry]) -> dict[str, dict[str, int]]:
    """Counts of `entries` (already filtered) by life event and by available online: one pass
    over the matches each (unnest and group), however many life events the register has."""
    inner, params = entries.order_by().values("life_events", "online").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(  # the inner query is Django's, its values parameters
            f"SELECT e, count(*) FROM (SELECT unnest(life_events) AS e FROM ({inner}) m) u "  # noqa: S608 # nosec B608
            "GROUP BY e ORDER BY e", params)
        events = {code: int(n) for code, n in cursor.fetchall()}
        cursor.execute(f"SELECT online, count(*) FROM ({inner}) m GROUP BY online",  # noqa: S608 # nosec B608
                       params)
        online = {bool(flag): int(n) for flag, n in cursor.fetchall()}
    return {"life_event": events,
            "online": {"true": online.get(True, 0), "false": online.get(False, 0)}}
