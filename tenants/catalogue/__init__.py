"""The national catalogue: every active tenant's published services in one index in the public
schema, searched by the national portal (`/services/`) and its API
(`/api/v1/catalogue/services`).

Public face:

* `index`: what cms calls when a service page is published, unpublished, moved or deleted
  (`publish_entry`, `withdraw_entry`), what the lifecycle calls when a tenant is suspended,
  resumed, archived or deleted (`set_listed`, `remove_tenant`), and `rebuild` (the
  `dgbox catalogue rebuild` command), which reads a tenant's schema through the sources cms
  registers (`register_source`): tenants never imports cms;
* `query`: `search(Filters)`, text (Russian and English stemming), life event, territory
  (a region with its municipalities), available online, language.

Views (`views.py`, the portal page) and the API (`api.py`) are imported by the URL
configuration only.
"""

from .index import (
    Entry,
    publish_entry,
    rebuild,
    register_source,
    remove_tenant,
    set_listed,
    withdraw_entry,
)
from .query import FilterError, Filters, facets, matching, ranked, search

__all__ = ["Entry", "FilterError", "Filters", "facets", "matching", "publish_entry", "ranked",
           "rebuild", "register_source", "remove_tenant", "search", "set_listed",
           "withdraw_entry"]
