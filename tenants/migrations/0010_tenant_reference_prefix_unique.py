"""Reference prefixes unique across the platform (in a transaction of its own: PostgreSQL
does not alter a table with row updates of the same transaction still pending checks)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tenants", "0009_tenant_reference_prefix")]

    operations = [
        migrations.AddConstraint(
            model_name="tenant",
            constraint=models.UniqueConstraint(
                condition=models.Q(("reference_prefix", ""), _negated=True),
                fields=("reference_prefix",), name="tenant_reference_prefix_unique"),
        ),
    ]
