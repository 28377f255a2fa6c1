"""dgbox: Digital Government in a Box."""

from .celery import app as celery_app

__all__ = ["celery_app"]
