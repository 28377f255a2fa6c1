"""`dgbox lockout list|unlock`: sign-in lockouts of a tenant's admin or the operator console."""

from contextlib import AbstractContextManager
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context
from rich.table import Table

from tenants.lockouts import lockouts, unlock
from tenants.models import Tenant
from tenants.terminal import console_for


class Command(BaseCommand):
    help = ("Sign-in lockouts (too many failed sign-ins): list them, or unlock an account or "
            "a client address before the cool-off ends.")
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        where = ("The tenant whose admin sign-in it is. Default: the operator console (public "
                 "schema).")
        listing = sub.add_parser("list", help="Accounts and addresses locked out now.")
        listing.add_argument("--tenant", metavar="SLUG", help=where)
        lift = sub.add_parser("unlock", help="Unlock an account and/or a client address.")
        lift.add_argument("--tenant", metavar="SLUG", help=where)
        lift.add_argument("--username", help="The account's username.")
        lift.add_argument("--address", help="The client address (as `list` shows it).")

    def handle(self, *args: Any, action: str, tenant: str | None = None,
               **options: Any) -> None:
        self.console = console_for(self.stdout)
        with self._schema(tenant):
            getattr(self, f"do_{action}")(tenant=tenant, **options)

    def _schema(self, slug: str | None) -> AbstractContextManager[Any]:
        if slug is None:
            return cast(AbstractContextManager[Any], schema_context(get_public_schema_name()))
        tenant = Tenant.objects.launched().filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}: see `dgbox tenant list` for the slugs.")
        return cast(AbstractContextManager[Any], tenant_context(tenant))

    def do_list(self, tenant: str | None, **_o: Any) -> None:
        site = f"tenant {tenant}" if tenant else "the operator console"
        found = lockouts()
        if not found:
            self.console.print(f"Nobody is locked out of {site}.")
            return
        table = Table(title=f"Locked out of {site}", title_justify="left")
        for column in ("What", "Who", "Failed sign-ins", "Locked until"):
            table.add_column(column)
        for lockout in found:
            table.add_row(lockout.kind, lockout.value, str(lockout.failures),
                          f"{lockout.until:%Y-%m-%d %H:%M %Z}")
        self.console.print(table)

    def do_unlock(self, tenant: str | None, username: str | None = None,
                  address: str | None = None, **_o: Any) -> None:
        if not username and not address:
            raise CommandError("Say what to unlock: --username NAME and/or --address ADDRESS "
                               "(`dgbox lockout list` shows both).")
        removed = unlock(username=username, address=address)
        site = f"tenant {tenant}" if tenant else "the operator console"
        who = " and ".join(filter(None, [username, address]))
        if removed:
            self.console.print(f"Unlocked {who} on {site} ({removed} attempt record(s) "
                               "removed).")
        else:
            self.console.print(f"{who} had no failed sign-ins on {site}: nothing to unlock.")
