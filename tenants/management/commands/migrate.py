"""`dgbox migrate`: django-tenants' migrate_schemas, then the national tenant and the template.

After the public schema and every tenant schema are migrated, the national operator's row
exists for the base domain and the template schema new tenants launch from is in step with
the code (tenants/launch/template.py).
"""

from typing import Any

from django.core.management.base import CommandParser
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from infra.s3 import ensure_bucket
from tenants.bootstrap import ensure_public_tenant
from tenants.launch import refresh_template


class Command(MigrateSchemasCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--skip-template", action="store_true",
                            help="Do not refresh the tenant template schema afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        partial = options.get("schema_name") or options.get("app_label")
        dry = options.get("plan") or options.get("check_unapplied") or options.get("fake")
        if partial or dry or options.get("skip_template"):
            return
        ensure_public_tenant()
        # The private bucket (uploads, letters, backups) with its privacy, lifecycle and
        # encryption settings; idempotent, like the rest of this command.
        ensure_bucket()
        snapshot = refresh_template(verbosity=max(options.get("verbosity", 1) - 1, 0))
        if options.get("verbosity", 1):
            self.stdout.write(
                f"Template schema in step with migrations (snapshot {snapshot.fingerprint}, "
                f"{snapshot.statements} statements)."
            )
