"""The hourly usage collection as a Celery task, fanned out to every active tenant by the
beat entry `meter-usage`, and the console's usage figures (`tenants.summarise_usage`, beat
entry `summarise-usage`, defined beside the code that reads them: `summary`). Registered with
Celery through `tenants.tasks`."""

from celery import shared_task

from .collect import collect_usage
from .summary import summarise_usage

__all__ = ["meter_usage", "summarise_usage"]


@shared_task(name="tenants.meter_usage")
def meter_usage() -> list[tuple[str, int | None]]:
    """Hourly, in each tenant's schema: store today's (and yesterday's) usage figures."""
    return [(record.day.isoformat(), record.api_calls) for record in collect_usage()]
