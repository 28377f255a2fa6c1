"""Every tenant's four staff roles as groups carrying exactly the permissions each needs
(issue 13): Administrators, Editors, Moderators, Case workers. The matrix, in words, is
docs/roles.md; tests/test_roles.py checks these groups in a launched tenant against it.

Runs in the template schema (so every tenant launched afterwards has the groups) and in each
existing tenant when the release is rolled out. Re-running it sets the groups back to exactly
this: permissions added by hand to these four groups are removed; other groups are left alone.
Frozen here on purpose (a migration must not follow later code).
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import migrations

ACCESS = ["wagtailadmin.access_admin"]
SNIPPETS = [f"cms.{action}_{model}" for model in ("alertbanner", "footerlink")
            for action in ("add", "change", "delete", "view")]
SERVICE_DEFINITIONS = [
    f"services.{action}_{model}"
    for model in ("onlineservice", "workflow", "decisionlettertemplate", "register",
                  "registerrecord")
    for action in ("add", "change", "delete", "view")
] + [f"notifications.{action}_notificationtemplate"
     for action in ("add", "change", "delete", "view")]
STAFF = [f"auth.{action}_{model}" for model in ("user", "group")
         for action in ("add", "change", "delete", "view")]

# name: (model permissions, page permissions on the root page, collection permissions on the
# root collection)
ROLES = {
    "Administrators": (
        ACCESS + STAFF + SNIPPETS + SERVICE_DEFINITIONS + [
            "cms.change_brandingsettings", "cms.change_securitysettings",
            "cms.view_pagefeedback", "services.change_servicessettings",
            "audit.view_auditevent",
            "services.view_case", "services.apply_on_behalf",
            "notifications.view_message"],
        ["add_page", "change_page", "publish_page", "bulk_delete_page", "lock_page",
         "unlock_page"],
        ["wagtailimages.add_image", "wagtailimages.change_image", "wagtailimages.choose_image",
         "wagtailimages.delete_image", "wagtaildocs.add_document",
         "wagtaildocs.change_document", "wagtaildocs.choose_document",
         "wagtaildocs.delete_document"]),
    "Editors": (
        ACCESS,
        ["add_page", "change_page", "lock_page", "unlock_page"],
        ["wagtailimages.add_image", "wagtailimages.change_image", "wagtailimages.choose_image",
         "wagtaildocs.add_document", "wagtaildocs.change_document",
         "wagtaildocs.choose_document"]),
    "Moderators": (
        ACCESS + SNIPPETS + ["cms.view_pagefeedback"],
        ["add_page", "change_page", "publish_page", "lock_page", "unlock_page"],
        ["wagtailimages.add_image", "wagtailimages.change_image", "wagtailimages.choose_image",
         "wagtaildocs.add_document", "wagtaildocs.change_document",
         "wagtaildocs.choose_document"]),
    "Case workers": (
        ACCESS + ["services.view_case", "services.apply_on_behalf"],
        [],
        []),
}


def _permission(apps, name):
    Permission = apps.get_model("auth", "Permission")
    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def set_groups(apps, schema_editor):
    # Permissions are otherwise made after all migrations (post_migrate): make them now.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps,
                           using=schema_editor.connection.alias)
    Group = apps.get_model("auth", "Group")
    Page = apps.get_model("wagtailcore", "Page")
    Collection = apps.get_model("wagtailcore", "Collection")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")
    root_page = Page.objects.filter(depth=1).order_by("path").first()
    root_collection = Collection.objects.filter(depth=1).order_by("path").first()
    for name, (model_perms, page_perms, collection_perms) in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([_permission(apps, p) for p in model_perms])
        GroupPagePermission.objects.filter(group=group).delete()
        if root_page is not None:
            GroupPagePermission.objects.bulk_create([
                GroupPagePermission(group=group, page=root_page,
                                    permission=_permission(apps, f"wagtailcore.{codename}"))
                for codename in page_perms])
        GroupCollectionPermission.objects.filter(group=group).delete()
        if root_collection is not None:
            GroupCollectionPermission.objects.bulk_create([
                GroupCollectionPermission(group=group, collection=root_collection,
                                          permission=_permission(apps, p))
                for p in collection_perms])


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0011_builders_choose_from_lists"),
        ("cms", "0004_security_settings"),
        ("audit", "0001_initial"),
        ("notifications", "0003_russian_labels"),
        ("wagtailcore", "0098_apitoken"),
        ("wagtailimages", "0027_image_description"),
        ("wagtaildocs", "0014_alter_document_file_size"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(set_groups, migrations.RunPython.noop)]
