"""`dgbox usage collect|show`: usage metering per tenant (tenants/metering/)."""

import json as jsonlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat
from django_tenants.utils import tenant_context
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tenants import metering
from tenants.models import Tenant
from tenants.terminal import console_for


def human_bytes(value: int | None) -> str:
    return "-" if value is None else filesizeformat(value)


class Command(BaseCommand):
    help = "Measure and show what each tenant uses: cases, notifications, API calls, storage."
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        collect = sub.add_parser("collect", help="Measure now (the hourly beat job does this).")
        collect.add_argument("--tenant", action="append", metavar="SLUG",
                             help="Only this tenant (repeatable). Default: every active one.")
        show = sub.add_parser("show", help="Latest figures per tenant and totals.")
        show.add_argument("--days", type=int, default=30,
                          help="Sum counters over this many days (default 30).")
        show.add_argument("--json", action="store_true", help="Print JSON.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_collect(self, tenant: list[str] | None = None, **_o: Any) -> None:
        tenants = Tenant.objects.launched().active().order_by("slug")
        if tenant:
            tenants = tenants.filter(slug__in=tenant)
            missing = sorted(set(tenant) - set(tenants.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No active tenant {', '.join(missing)}: see `dgbox tenant "
                                   "list` for the slugs.")
        chosen = list(tenants)
        console = console_for(self.stdout)
        failed: list[tuple[str, Exception]] = []
        with Progress(TextColumn("Measuring"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console,
                      disable=not console.is_terminal) as progress:
            task = progress.add_task("usage", total=len(chosen))
            for t in chosen:
                try:
                    with tenant_context(t):
                        metering.collect_usage()
                except Exception as exc:  # noqa: BLE001 - one tenant's failure is reported
                    failed.append((t.slug, exc))
                progress.advance(task)
        for slug, error in failed:
            console.print(f"[red]failed[/] {slug}: {error}")
        console.print(f"Measured {len(chosen) - len(failed)} of {len(chosen)} tenants.")
        if failed:
            raise CommandError(f"{len(failed)} tenants could not be measured.")

    def do_show(self, days: int = 30, json: bool = False,
                **_o: Any) -> None:
        if days < 1 or days > 366:
            raise CommandError("--days is between 1 and 366.")
        rows = metering.fleet_usage(days)
        names = dict(Tenant.objects.values_list("schema_name", "slug"))
        for row in rows:
            row["slug"] = names.get(row["schema_name"], f"(deleted) {row['schema_name']}")
        if json:
            self.stdout.write(jsonlib.dumps(rows, default=str, indent=2))
            return
        table = Table(title=f"Usage (counters over {days} days, gauges at the latest "
                            "measurement)", title_justify="left")
        for column in ("Tenant", "Cases open/total", f"New cases {days}d",
                       f"Notifications {days}d", f"API calls {days}d", "Private files",
                       "Media", "Measured"):
            table.add_column(column, justify="left" if column in ("Tenant", "Measured")
                             else "right")
        for row in rows:
            cases = ("-" if row["cases_total"] is None
                     else f"{row['cases_open']}/{row['cases_total']}")
            table.add_row(row["slug"], cases, str(row["cases_new"]),
                          str(row["notifications_sent"]), str(row["api_calls"]),
                          human_bytes(row["storage_bytes"]), human_bytes(row["media_bytes"]),
                          f"{row['collected_at']:%Y-%m-%d %H:%M}" if row["collected_at"] else "-")
        console_for(self.stdout).print(table)

