"""The launch's background task: topping the spare pool back up after a launch used a spare.

Registered with Celery through `tenants.tasks` (the module a worker discovers)."""

from tenants.platform_task import platform_task

from .spares import fill_pool


@platform_task("tenants.replenish_spares")
def replenish_spares() -> int:
    """Top the pool of ready-made schemas back up after a launch used one."""
    return fill_pool()
