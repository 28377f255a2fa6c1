"""Reusable reads of messages."""

from django.db import models
from django.utils import timezone

from .choices import Status


class MessageQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=Status.PENDING)

    def due(self, now=None):
        """Pending messages whose next attempt time has come (served by the status index)."""
        return self.pending().filter(next_attempt_at__lte=now or timezone.now())

    def for_topic(self, topic: str):
        """Every message about `topic` (e.g. a case reference), oldest first."""
        return self.filter(topic=topic).order_by("created_at", "pk")
