"""Case reference prefixes move to the tenant row, unique across the platform.

Every launched tenant keeps the prefix it uses today (the one set in its "Online services"
settings, else the first three letters of its slug) where no other tenant has it; where two
share one, the tenant that set it explicitly keeps it, then the oldest, and the others get
the first free one with a suffix letter (ACC -> ACCO, ACCA...). References already given out
are not renamed: citizens hold them. Self-contained: it must not change when the code does.
"""

import re
import string

from django.db import migrations, models

PREFIX_RE = re.compile(r"^[A-Z]{2,5}$")


def _letters(slug):
    return re.sub(r"[^A-Z]", "", (slug or "").upper())


def _candidates(slug):
    letters = _letters(slug)
    base = (letters[:3] or "APP").ljust(2, "X")
    yield base
    suffixes = list(dict.fromkeys(letters[len(base):] + string.ascii_uppercase))
    for letter in suffixes:
        yield base + letter
    for first in suffixes:
        for second in string.ascii_uppercase:
            yield base + first + second


def _configured_prefix(cursor, schema):
    """The prefix set in the tenant's own settings, if its schema still has that column."""
    cursor.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                   "AND table_name = 'services_servicessettings' "
                   "AND column_name = 'reference_prefix'", [schema])
    if cursor.fetchone() is None:
        return ""
    cursor.execute(f'SELECT reference_prefix FROM "{schema}".services_servicessettings '  # noqa: S608
                   "ORDER BY id LIMIT 1")
    row = cursor.fetchone()
    prefix = (row[0] if row else "") or ""
    return prefix if PREFIX_RE.match(prefix) else ""


def give_every_tenant_a_prefix(apps, schema_editor):
    Tenant = apps.get_model("tenants", "Tenant")
    tenants = list(Tenant.objects.exclude(kind="national").order_by("created_at", "pk"))
    with schema_editor.connection.cursor() as cursor:
        configured = {t.pk: _configured_prefix(cursor, t.schema_name) for t in tenants}
    taken = set()
    for tenant in sorted(tenants, key=lambda t: not configured[t.pk]):  # stable: oldest first
        wish = configured[tenant.pk] or next(_candidates(tenant.slug))
        prefix = wish if wish not in taken else next(
            c for c in _candidates(tenant.slug) if c not in taken)
        taken.add(prefix)
        Tenant.objects.filter(pk=tenant.pk).update(reference_prefix=prefix)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0008_russian_labels")]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="reference_prefix",
            field=models.CharField(
                blank=True, max_length=5,
                help_text="Starts every case reference of this tenant (MSK in MSK-2026-000123); "
                          "unique across the platform. Chosen at launch; its administrator may "
                          "change it until the first case. Blank only for the national "
                          "operator."),
        ),
        migrations.RunPython(give_every_tenant_a_prefix, migrations.RunPython.noop),
    ]
