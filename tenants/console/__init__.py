"""The operator console: the web pages at /operator/ on the platform's base domain and the
people who may use them.

* `views`: every tenant with its status, release and usage, the fleet's usage over time,
  the rollouts (read-only: changes stay in the audited CLI), and sign-in pages;
* `charts`: small server-rendered SVG bar charts for those pages;
* `operators`: the operators' accounts (`dgbox operator add|list|link|deactivate|activate`).

URLs are in dgbox/urls_public.py, templates in dgbox/templates/operator/.
"""
