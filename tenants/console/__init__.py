"""The operator console: the web pages at /operator/ on the platform's base domain and the
people who may use them (national operators and regional administrators: tenants/access.py).

* `views`: every tenant in the user's scope with its status, release and usage, the usage
  over time, the rollouts (operators only), and sign-in pages;
* `manage`: what the console changes: launching a tenant, suspend, resume, archive, back up
  now, the first administrator's invitation, halting and resuming a running rollout;
* `forms`, `actions` (one function per action, for the audit trail), `reauth` (the password
  asked again before destructive actions);
* `charts`: small server-rendered SVG bar charts for those pages;
* `operators`: the console's accounts (`dgbox operator add [--region]|list|link|...`).

URLs are in dgbox/urls_public.py, templates in dgbox/templates/operator/, the rollout page's
script in tenants/static/operator/rollout.js.
"""
