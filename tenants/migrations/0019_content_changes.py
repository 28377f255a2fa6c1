"""The log of content changes per tenant schema and the function its triggers call
(tenants/content_changes.py). Raw SQL: `xid8` and a trigger function have no Django field or
operation; no model reads the table (content_changes.version() does)."""

from django.db import migrations

from tenants.content_changes import CREATE_LOG, DROP_LOG


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0018_usage_summary'),
    ]

    operations = [
        migrations.RunSQL(CREATE_LOG, DROP_LOG),
    ]
