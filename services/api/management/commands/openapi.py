"""`dgbox openapi`: write the OpenAPI document of /api/v1/ to docs/api/openapi-v1.yaml (the
committed copy), or with --check say whether that copy is out of date."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from services.api.openapi import as_yaml

COMMITTED = Path(settings.BASE_DIR) / "docs" / "api" / "openapi-v1.yaml"


class Command(BaseCommand):
    help = "Write the OpenAPI document of /api/v1/ (docs/api/openapi-v1.yaml), or --check it."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=COMMITTED,
                            help="Where to write it (default: docs/api/openapi-v1.yaml).")
        parser.add_argument("--check", action="store_true",
                            help="Write nothing; fail when the file differs from the code's.")

    def handle(self, *args, output, check, **options):
        document = as_yaml()
        if check:
            current = output.read_text(encoding="utf-8") if output.exists() else ""
            if current != document:
                raise CommandError(f"{output} is out of date: run `make openapi` and commit it.")
            self.stdout.write(f"{output} is up to date.")
            return
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(document, encoding="utf-8")
        self.stdout.write(f"Wrote {output}.")
