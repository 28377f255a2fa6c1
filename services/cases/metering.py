"""The services app's part in usage metering (tenants/metering/): cases and notifications
of the current tenant's schema, in two queries."""

from django.db.models import Count, Q

from ..notifications.choices import Channel, Status
from ..notifications.models import Message
from .models import Case


def case_and_message_usage(start, end) -> dict[str, int]:
    cases = Case.objects.aggregate(
        cases_total=Count("pk"),
        cases_open=Count("pk", filter=Q(closed_at__isnull=True)),
        cases_new=Count("pk", filter=Q(submitted_at__gte=start, submitted_at__lt=end)),
    )
    messages = Message.objects.filter(
        status=Status.SENT, sent_at__gte=start, sent_at__lt=end,
    ).aggregate(notifications_sent=Count("pk"), sms_sent=Count("pk", filter=Q(channel=Channel.SMS)))
    return {**cases, **messages}
