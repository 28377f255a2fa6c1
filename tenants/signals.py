"""Signals through which other code takes part in a tenant's life without the sender importing
it: other apps (cms, services), and the higher layers of `tenants` itself.

`tenant_launched` is sent inside the launch transaction with the connection already in the new
tenant's schema: receivers create what a fresh tenant needs (cms: site, home and default pages).
An exception in a receiver aborts the launch and nothing is left behind.

`template_migrated` is sent with the connection in the template schema after it has been
migrated, before it is snapshotted: receivers remove rows migrations created that must not be
copied into every tenant (e.g. Wagtail's "Welcome" page).

`template_refreshed` is sent with the connection in the public schema once a new template
snapshot is stored: receivers rebuild what is made from the snapshot (the pool of spare
schemas, tenants/launch/spares.py, connected in `TenantsConfig.ready()`); `migrate`, when not
None, is the callable the template was migrated with, which receivers may apply to other
schemas of the previous release (the spares).
"""

import django.dispatch

tenant_launched = django.dispatch.Signal()  # kwargs: tenant, options (domain, port)
template_migrated = django.dispatch.Signal()  # kwargs: schema_name
template_refreshed = django.dispatch.Signal()  # kwargs: snapshot, migrate
