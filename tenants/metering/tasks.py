"""The hourly usage collection as a Celery task, fanned out to every active tenant by the
beat entry `meter-usage`. Registered with Celery through `tenants.tasks`."""

from celery import shared_task

from .collect import collect_usage


@shared_task(name="tenants.meter_usage")
def meter_usage() -> list[tuple[str, int | None]]:
    """Hourly, in each tenant's schema: store today's (and yesterday's) usage figures."""
    return [(record.day.isoformat(), record.api_calls) for record in collect_usage()]
