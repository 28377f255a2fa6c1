"""Launching a tenant: `launch_tenant(LaunchRequest(...))`, one service for the CLI, the
operator console and the API.

Layers, each using only the ones before it:

* `validation`: rules for names, slugs and domains, with messages a person can act on;
* `template`: the template schema every tenant is launched from and its SQL snapshot
  (`refresh_template()`, run by `dgbox migrate`, `dgbox template refresh` and every rollout);
* `spares`: schemas built ahead of time from the snapshot, restocked whenever the template is
  refreshed (signal `template_refreshed`) and, after each launch, by `tasks.replenish_spares`;
* `provisioning`: `validate_launch()` and `launch_tenant()`, all or nothing in one transaction.

Other code imports the names below; `template` and `spares` are for the platform's own
commands, rollouts and backups.
"""

from .provisioning import LaunchError, LaunchRequest, LaunchResult, launch_tenant, validate_launch
from .template import TemplateError, refresh_template, template_status

__all__ = ["LaunchError", "LaunchRequest", "LaunchResult", "TemplateError", "launch_tenant",
           "refresh_template", "template_status", "validate_launch"]
