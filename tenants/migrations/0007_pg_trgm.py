"""pg_trgm in the public schema, once per database: tenant schemas find its operator classes
through their search path (tenant, public). Creating it from a tenant migration would put it
in the first tenant's schema, out of every other tenant's reach."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tenants", "0006_usage_records")]

    operations = [
        migrations.RunSQL("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
                          reverse_sql=migrations.RunSQL.noop),
    ]
