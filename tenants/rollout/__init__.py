"""Staged upgrades of the fleet: `dgbox rollout plan|run|history|show`.

* `plan.build_plan()` reads every schema's pending migrations in one pass (no `migrate` per
  schema) and groups tenants by version;
* `runner.run_rollout()` migrates the public schema, refreshes the template, then upgrades the
  tenants ring by ring (canary first) with bounded parallelism, maintenance per tenant and a
  health check after each; it halts when a ring fails too often and resumes where it stopped;
* `steps` upgrades and health-checks one schema (`engine` applies its migrations with a graph
  and state loaded once per process, `health` checks it); `report` writes what happened;
* `display` draws plans, progress and history in the terminal (rich).
"""

from .plan import Plan, build_plan
from .runner import Outcome, Reporter, RolloutBusy, RolloutError, RolloutOptions, run_rollout

__all__ = ["Outcome", "Plan", "Reporter", "RolloutBusy", "RolloutError", "RolloutOptions",
           "build_plan", "run_rollout"]
