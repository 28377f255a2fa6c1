"""The case reference prefix moves to the tenant's row in the public schema (unique across the
platform). tenants 0008 copies each tenant's value from this column first: the public schema
is migrated before the tenant schemas (migrate and every rollout)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0008_russian_labels'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='servicessettings',
            name='reference_prefix',
        ),
    ]
