"""Every tenant starts with the "Case workers" group the Standard workflow's steps name, able
to sign in to the admin and see cases: adding a member of staff to it is all it takes."""

from django.db import migrations

GROUP = "Case workers"  # services.workflowspec.STAFF_GROUP when this was written


def create_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are otherwise made after all migrations (post_migrate): make these two now,
    # as Wagtail's own migrations do.
    admin_type, _ = ContentType.objects.get_or_create(app_label="wagtailadmin", model="admin")
    access_admin, _ = Permission.objects.get_or_create(
        content_type=admin_type, codename="access_admin",
        defaults={"name": "Can access Wagtail admin"})
    case_type, _ = ContentType.objects.get_or_create(app_label="services", model="case")
    view_case, _ = Permission.objects.get_or_create(
        content_type=case_type, codename="view_case", defaults={"name": "Can view case"})
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(access_admin, view_case)


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0005_case_search_trigram"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
