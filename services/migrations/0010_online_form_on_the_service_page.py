"""The online form moves onto its service page: OnlineService becomes a modelcluster child of
cms.ServicePage (a ParentalKey on the same `page_id` column, so every existing form stays on
its page, with its versions and cases), edited in the page's "Online application" tab and
kept in the page's revisions. Revisions made before this have no `online_services` entry;
Wagtail then reads the form from the table, so opening, reverting or publishing them keeps
the existing form.

The copied `slug` goes: the address follows the page's slug (any script) when it is read.

A page now takes applications either with its online form or on another website
(`apply_url`), not both. Where a page had both and the form was open, citizens only ever saw
the form's button: the unused address is cleared (on the page and in its latest revision, the
one its editor opens). Where the form was closed the address was the button people saw; it
is kept, and the editor is asked to choose when the page is next saved.
"""

import django.db.models.deletion
import modelcluster.fields
from django.db import migrations, models


def clear_unused_apply_urls(apps, schema_editor):
    OnlineService = apps.get_model("services", "OnlineService")
    ServicePage = apps.get_model("cms", "ServicePage")
    Revision = apps.get_model("wagtailcore", "Revision")
    pages = ServicePage.objects.filter(
        pk__in=OnlineService.objects.filter(accepting=True).values("page_id")).exclude(
        apply_url="")
    for page in pages:
        if page.latest_revision_id:
            revision = Revision.objects.filter(pk=page.latest_revision_id).first()
            if revision is not None and revision.content.get("apply_url"):
                revision.content["apply_url"] = ""
                revision.save(update_fields=["content"])
        ServicePage.objects.filter(pk=page.pk).update(apply_url="")


def restore_slugs(apps, schema_editor):
    OnlineService = apps.get_model("services", "OnlineService")
    for service in OnlineService.objects.select_related("page"):
        service.slug = service.page.slug[:80]
        service.save(update_fields=["slug"])


class Migration(migrations.Migration):

    dependencies = [
        ('cms', '0003_russian_labels'),
        ('services', '0009_reference_prefix_on_tenant'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='onlineservice',
            options={'ordering': ['-accepting', 'pk'], 'permissions': [('apply_on_behalf', 'Can enter an application on behalf of a citizen')], 'verbose_name': 'online service', 'verbose_name_plural': 'online services'},
        ),
        # Not unique and with a default first, so that going back re-adds it and fills it.
        migrations.AlterField(
            model_name='onlineservice',
            name='slug',
            field=models.SlugField(default='', editable=False, max_length=80),
        ),
        migrations.RunPython(migrations.RunPython.noop, restore_slugs),
        migrations.RemoveField(
            model_name='onlineservice',
            name='slug',
        ),
        migrations.AlterField(
            model_name='onlineservice',
            name='page',
            field=modelcluster.fields.ParentalKey(on_delete=django.db.models.deletion.CASCADE, related_name='online_services', to='cms.servicepage', verbose_name='service page'),
        ),
        migrations.RunPython(clear_unused_apply_urls, migrations.RunPython.noop),
    ]
