"""`dgbox template status|refresh`: the schema every tenant is launched from."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenants.launch import refresh_template, template_status


class Command(BaseCommand):
    help = "Show or refresh the template schema new tenants are launched from."
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["status", "refresh"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "refresh":
            snapshot = refresh_template()
            self.stdout.write(f"Template refreshed: snapshot {snapshot.fingerprint}, "
                              f"{snapshot.statements} statements, {len(snapshot.sql):,} bytes.")
            return
        status = template_status()
        state = "fresh" if status["fresh"] else "STALE: run `dgbox template refresh`"
        self.stdout.write(f"schema:      {status['schema']} "
                          f"({'present' if status['schema_exists'] else 'missing'})")
        self.stdout.write(f"migrations:  {status['fingerprint']}")
        self.stdout.write(f"snapshot:    {state}")
        if status["fresh"]:
            self.stdout.write(f"             {status['statements']} statements, "
                              f"{status['snapshot_bytes']:,} bytes, "
                              f"taken {status['snapshot_created_at']:%Y-%m-%d %H:%M}")
