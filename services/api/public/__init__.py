"""The public, read-only part of /api/v1/: the tenant's service catalogue, offices and news.

No key is needed (a key is checked when one is sent). Only live, public pages of the requesting
site are served, in both languages (`?locale=`). Lists are cursor-paginated, filtered
(filters.py), answered in the same number of queries whatever their length (query.py), and
carry Cache-Control and an ETag (a matching If-None-Match gets a 304; views.py).
"""
