"""The trigger that counts content changes (tenants/content_changes.py) on every table the
site's cached chrome and pages are made of: Wagtail's pages, sites, locales, view
restrictions, images and documents, and this app's page types, their inline rows, banners,
footer links and branding."""

from django.db import migrations

from tenants.content_changes import watch_tables


class Migration(migrations.Migration):

    dependencies = [
        ('cms', '0004_security_settings'),
        ('tenants', '0019_content_changes'),
        ('wagtailcore', '0098_apitoken'),
        ('wagtailimages', '0027_image_description'),
        ('wagtaildocs', '0014_alter_document_file_size'),
    ]

    operations = [
        watch_tables(
            'wagtailcore_page', 'wagtailcore_site', 'wagtailcore_locale',
            'wagtailcore_pageviewrestriction', 'wagtailimages_image', 'wagtaildocs_document',
            'cms_homepage', 'cms_standardpage', 'cms_serviceindexpage', 'cms_servicepage',
            'cms_guidepage', 'cms_stepbysteppage', 'cms_newsindexpage', 'cms_newspage',
            'cms_officeindexpage', 'cms_officepage', 'cms_servicechannel', 'cms_step',
            'cms_openinghours', 'cms_openingexception', 'cms_alertbanner', 'cms_footerlink',
            'cms_brandingsettings',
        ),
    ]
