"""`dgbox kpis compute`: compute tenants' daily KPI snapshots (services/kpis/, docs/kpis.md)."""

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import tenant_context
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.kpis.compute import compute_day, yesterday
from tenants.models import Tenant
from tenants.terminal import console_for

#: The longest --since a run accepts (a backfill of two years is 730 days per tenant).
MAX_DAYS = 3660


def iso_day(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"“{text}” is not a date: use YYYY-MM-DD, e.g. 2026-11-30.") from None


class Command(BaseCommand):
    help = "Compute the daily KPI snapshots of tenants (safe to repeat: a day is replaced)."
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        compute = sub.add_parser(
            "compute", help="Compute one day, or every day since a date, for each tenant "
                            "(default: each tenant's yesterday, in its time zone).")
        when = compute.add_mutually_exclusive_group()
        when.add_argument("--day", metavar="YYYY-MM-DD", help="Only this day.")
        when.add_argument("--since", metavar="YYYY-MM-DD",
                          help="Every day from this one to each tenant's yesterday.")
        compute.add_argument("--tenant", action="append", metavar="SLUG",
                             help="Only this tenant (repeatable). Default: every active one.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_compute(self, day: str | None = None, since: str | None = None,
                   tenant: list[str] | None = None, **_o: Any) -> None:
        first = iso_day(since) if since else None
        only = iso_day(day) if day else None
        if first is not None and (timezone.localdate() - first).days > MAX_DAYS:
            raise CommandError(f"--since goes back more than {MAX_DAYS} days; compute in "
                               "parts, e.g. a year at a time.")
        tenants = Tenant.objects.launched().order_by("slug")
        if tenant:
            tenants = tenants.filter(slug__in=tenant)
            missing = sorted(set(tenant) - set(tenants.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No launched tenant {', '.join(missing)}: see `dgbox tenant "
                                   "list` for the slugs.")
        else:
            tenants = tenants.active()
        chosen = list(tenants)
        console = console_for(self.stdout)
        failed: list[tuple[str, Exception]] = []
        days_done = 0
        with Progress(TextColumn("Computing KPIs"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console,
                      disable=not console.is_terminal) as progress:
            task = progress.add_task("kpis", total=len(chosen))
            for t in chosen:
                try:
                    with tenant_context(t):
                        days = self._days(only, first)
                        for one in days:
                            compute_day(one)
                        days_done += len(days)
                except Exception as exc:  # noqa: BLE001 - one tenant's failure is reported
                    failed.append((t.slug, exc))
                progress.advance(task)
        for slug, error in failed:
            console.print(f"[red]failed[/] {slug}: {error}")
        console.print(f"Computed {days_done} tenant days for {len(chosen) - len(failed)} of "
                      f"{len(chosen)} tenants.")
        if failed:
            raise CommandError(f"{len(failed)} tenants failed; run the command again for them "
                               "with --tenant (a day computed again is replaced).")

    @staticmethod
    def _days(only: datetime.date | None, first: datetime.date | None) -> list[datetime.date]:
        """The current tenant's days to compute."""
        if only is not None:
            return [only]
        last = yesterday()
        if first is None:
            return [last]
        count = (last - first).days + 1
        return [first + datetime.timedelta(days=n) for n in range(max(0, count))]
