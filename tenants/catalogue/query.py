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
from django.db.models import F, QuerySet
from django.utils.translation import gettext as _

from tenants.models import CatalogueEntry, LifeEvent, Tenant

#: Longer queries are refused by the API (400) and cut by the portal page.
QUERY_MAX = 200
#: Counts stop here ("more than 1,000 services"): an exact count of a broad word's matches
#: would read them all.
COUNT_CAP = 1000
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


def capped_count(entries: QuerySet[CatalogueEntry]) -> tuple[int, bool]:
    """How many `entries` there are, counted up to COUNT_CAP: (the number, whether it is exact).
    Past the cap the count stops (a LIMIT under the COUNT), so a word found in half the index
    costs no more to count than one found a thousand times."""
    found = entries.order_by()[:COUNT_CAP + 1].count()
    return min(found, COUNT_CAP), found <= COUNT_CAP


def rows_and_total(found: QuerySet[CatalogueEntry], query: SearchQuery | None, number: int,
                   size: int, related: tuple[str, ...] = ("tenant",),
                   ) -> tuple[list[CatalogueEntry], int, bool]:
    """Page `number` of `found` best first, the number of all of them (up to COUNT_CAP) and
    whether that number is exact.

    With text, in two tiers, so that no query ranks every match: first the entries whose
    title or summary matches (the small `head_search` vector, its own GIN index), ranked by
    `ts_rank` on the whole vector (title over summary over the rest); then those matched only
    by the other text (documents, who can apply, names of life events: all weight C, which
    ts_rank would order by little more than chance), by title. A broad word ("паспорт",
    found in the documents of half the services) ranks only the services that have it in
    their title or summary. Without text, by title (the `catalogue_title` index)."""
    start = (number - 1) * size
    total, exact = capped_count(found)
    if exact and total <= start:  # nothing found, or past the end
        return [], total, exact
    if query is None:
        return list(found.select_related(*related).order_by("title", "pk")[start:start + size]), \
            total, exact
    head = (found.filter(head_search=query).annotate(rank=SearchRank(F("search"), query))
            .select_related(*related).order_by("-rank", "title", "pk"))
    rows: list[CatalogueEntry] = list(head[start:start + size])
    if len(rows) == size:
        return rows, total, exact
    head_total = start + len(rows) if rows else head.count()
    rest = (found.exclude(head_search=query).select_related(*related)
            .order_by("title", "pk"))
    offset = max(0, start - head_total)
    rows += list(rest[offset:offset + size - len(rows)])
    return rows, total, exact


def page_of(found: QuerySet[CatalogueEntry], query: SearchQuery | None, number: object,
            size: int) -> tuple["Page[CatalogueEntry]", bool]:
    """A page for the portal's template and whether its paginator's count is exact (else
    there are more than COUNT_CAP): a number that is not a page gives the first page, one
    past the end the last (as Paginator.get_page)."""
    try:
        wanted = max(1, int(str(number)))
    except ValueError:
        wanted = 1
    rows, total, exact = rows_and_total(found, query, wanted, size)
    paginator: Paginator[CatalogueEntry] = Paginator(_Known(total), size)  # type: ignore[arg-type]
    try:
        number = paginator.validate_number(wanted)
    except (EmptyPage, PageNotAnInteger):
        number = paginator.num_pages
    if not rows and total:  # past the end: the last page
        rows, _total, _exact = rows_and_total(found, query, int(number), size)
    return Page(rows, number, paginator), exact


def search(filters: Filters) -> QuerySet[CatalogueEntry]:
    """Entries matching `filters`, best first, with their tenant (FilterError for unknown
    codes)."""
    return ranked(*matching(filters)).select_related("tenant")


def facets(entries: QuerySet[CatalogueEntry]) -> dict[str, dict[str, int]]:
    """Counts of `entries` (already filtered) by life event and by available online: one pass
    over the matches, grouped by their (life events, online) pair (a few dozen distinct
    pairs), which are then added up here per life event."""
    inner, params = entries.order_by().values("life_events", "online").query.sql_with_params()
    events: dict[str, int] = {}
    online = {True: 0, False: 0}
    with connection.cursor() as cursor:
        cursor.execute(  # the inner query is Django's, its values parameters
            f"SELECT life_events, online, count(*) FROM ({inner}) m "  # noqa: S608 # nosec B608
            "GROUP BY life_events, online", params)
        for codes, flag, n in cursor.fetchall():
            online[bool(flag)] += int(n)
            for code in set(codes or ()):
                events[code] = events.get(code, 0) + int(n)
    return {"life_event": dict(sorted(events.items())),
            "online": {"true": online[True], "false": online[False]}}
