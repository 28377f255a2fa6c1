"""The trigger that counts content changes (tenants/content_changes.py) on the tables the
published services, workflows, receipt templates and webhook subscriptions are read from."""

from django.db import migrations

from tenants.content_changes import watch_tables


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0013_answers_named_for_screen_readers'),
        ('notifications', '0004_webhook_disabled_kind'),
        ('webhooks', '0001_initial'),
        ('tenants', '0019_content_changes'),
    ]

    operations = [
        watch_tables(
            'services_workflow', 'services_workflowversion', 'services_onlineservice',
            'services_formversion', 'notifications_notificationtemplate',
            'webhooks_subscription',
        ),
    ]
