"""The national catalogue (tenants/catalogue/): one row per published service page of every
tenant, with a generated, GIN-indexed search vector in Russian and English stemming. Filled by
cms as pages are published, or by `dgbox catalogue rebuild`."""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tenants', '0012_regional_administrators_and_rollout_halt'),
    ]

    operations = [
        migrations.CreateModel(
            name='CatalogueEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('page_id', models.PositiveIntegerField(verbose_name='page id')),
                ('language', models.CharField(max_length=8, verbose_name='language')),
                ('title', models.CharField(max_length=255, verbose_name='title')),
                ('summary', models.TextField(blank=True, verbose_name='summary')),
                ('keywords', models.TextField(blank=True, verbose_name='other searchable text')),
                ('url', models.URLField(max_length=500, verbose_name='address')),
                ('life_events', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=64), blank=True, default=list, size=None, verbose_name='life events')),
                ('categories', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=64), blank=True, default=list, size=None, verbose_name='categories')),
                ('online', models.BooleanField(default=False, verbose_name='available online')),
                ('visible', models.BooleanField(default=True, verbose_name='listed')),
                ('updated_at', models.DateTimeField(blank=True, null=True, verbose_name='updated')),
                ('search', models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.SearchVector('title', config='russian', weight='A'), '||', django.contrib.postgres.search.SearchVector('title', config='english', weight='A'), django.contrib.postgres.search.SearchConfig('russian')), '||', django.contrib.postgres.search.SearchVector('summary', config='russian', weight='B'), django.contrib.postgres.search.SearchConfig('russian')), '||', django.contrib.postgres.search.SearchVector('summary', config='english', weight='B'), django.contrib.postgres.search.SearchConfig('russian')), '||', django.contrib.postgres.search.SearchVector('keywords', config='russian', weight='C'), django.contrib.postgres.search.SearchConfig('russian')), '||', django.contrib.postgres.search.SearchVector('keywords', config='english', weight='C'), django.contrib.postgres.search.SearchConfig('russian')), output_field=django.contrib.postgres.search.SearchVectorField(), verbose_name='search vector')),
                ('region', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant', verbose_name='region')),
                ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='catalogue', to='tenants.tenant', verbose_name='tenant')),
            ],
            options={
                'verbose_name': 'catalogue entry',
                'verbose_name_plural': 'catalogue entries',
                'ordering': ['title', 'pk'],
                'indexes': [django.contrib.postgres.indexes.GinIndex(fields=['search'], name='catalogue_search'), django.contrib.postgres.indexes.GinIndex(fields=['life_events'], name='catalogue_life_events'), models.Index(fields=['region', 'visible'], name='catalogue_region'), models.Index(fields=['visible', 'title'], name='catalogue_title')],
                'constraints': [models.UniqueConstraint(fields=('tenant', 'page_id'), name='catalogue_one_row_per_page')],
            },
        ),
    ]
