"""The shared (public) schema: tenants, launching and running them, and the national portal.

Where things are:

* `models`: Tenant, Domain, the template snapshot and spare schemas, national registers,
  rollouts and feature flags, usage records (one app label `tenants`, one migrations folder);
* `middleware`: routes each request to its tenant's schema by host name;
* `launch/`: validating and launching a tenant from the template schema (spare pool);
* `lifecycle/`: suspend, resume, archive, backup, restore, delete, scheduled backups;
* `rollout/`: staged upgrades of the fleet (`dgbox rollout ...`); `flags`: feature flags;
* `metering/`: usage per tenant and day (API calls, cases, notifications, storage);
* `console/`: the operator console at /operator/ and its operators;
* `registers`: read access to the national registers for tenant code;
* `addresses`: tenant host names and absolute URLs; `signals`: what other apps answer to;
* `tasks`: Celery tasks (fan-out to every tenant, and the sub-packages' tasks);
* `views`: the national portal; `bootstrap`: the national operator's own tenant row;
* `terminal`: rich output for the management commands (`dgbox tenant|template|rollout|
  usage|operator|migrate`);
* `db`: the connection typed with django-tenants' schema methods; `platform_task`: the
  decorator for Celery tasks that run on the public schema.

Arrows point one way: `cms` and `services` use `tenants` (its packages' `__init__` and
`models`, `signals`, `registers`, `flags`, `tasks`), never the other way round.
"""
