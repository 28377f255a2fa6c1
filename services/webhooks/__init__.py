"""Signed webhooks of case events to API clients (docs/webhooks.md).

The public face: `events.publish_case_event()` is called by this app's own signal receivers
(receivers.py) when the case engine writes a CaseEvent or an API submission is recorded;
nothing outside this app calls into it. A Subscription belongs to an API client
(services.api); each event that the client may see becomes one Delivery row per matching
subscription, in the transaction of the case change, and a Celery task posts it after the
commit (delivery.py, tasks.py). Administrators manage subscriptions and read and replay the
delivery log in the tenant's admin (views.py, wagtail_hooks.py).
"""
