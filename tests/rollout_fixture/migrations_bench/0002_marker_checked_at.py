from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("rollout_fixture", "0001_initial")]

    operations = [
        migrations.AddField(model_name="marker", name="checked_at",
                            field=models.DateTimeField(null=True, blank=True)),
    ]
