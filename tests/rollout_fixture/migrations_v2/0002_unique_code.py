import os
import time
from pathlib import Path

from django.db import migrations, models


def pause_if_asked(apps, schema_editor):
    """With DGBOX_TEST_ROLLOUT_HANG_SCHEMA set to this schema: write the schema name to
    DGBOX_TEST_ROLLOUT_HANG_FILE and wait there (inside the migration's transaction) until the
    process is killed. Tests only."""
    schema = schema_editor.connection.schema_name
    if os.environ.get("DGBOX_TEST_ROLLOUT_HANG_SCHEMA") == schema:
        Path(os.environ["DGBOX_TEST_ROLLOUT_HANG_FILE"]).write_text(schema)
        time.sleep(600)


class Migration(migrations.Migration):

    dependencies = [("rollout_fixture", "0001_initial")]

    operations = [
        migrations.RunPython(pause_if_asked, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="marker",
            constraint=models.UniqueConstraint(fields=["code"], name="rollout_marker_code_unique"),
        ),
    ]
