"""The launch's background task: topping the spare pool back up after a launch used a spare.

Registered with Celery through `tenants.tasks` (the module a worker discovers)."""

from celery import shared_task

from .spares import fill_pool


@shared_task(name="tenants.replenish_spares", tenant_required=False)
def replenish_spares() -> int:
    """Top the pool of ready-made schemas back up after a launch used one."""
    return fill_pool()
