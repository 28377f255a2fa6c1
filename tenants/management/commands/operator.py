"""`dgbox operator add|list|link|deactivate|activate`: who may use the operator console:
national operators, and regional administrators (`add EMAIL --region SLUG`)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.table import Table

from tenants.console import operators
from tenants.terminal import console_for


class Command(BaseCommand):
    help = "Central operators: people who may use the operator console (/operator/)."
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = sub.add_parser("add", help="Add an operator; prints a one-time link to set a "
                                         "password (valid 3 days).")
        add.add_argument("email")
        add.add_argument("--region", help="A regional administrator of this region (its slug): "
                                          "the region and its municipalities only.")
        sub.add_parser("list", help="Operators, active and deactivated.")
        link = sub.add_parser("link", help="A new one-time link to set a password.")
        link.add_argument("email")
        for name, text in (("deactivate", "End an operator's access at once (sessions too)."),
                           ("activate", "Give a deactivated operator access again.")):
            sub.add_parser(name, help=text).add_argument("email")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        self.console = console_for(self.stdout)
        try:
            getattr(self, f"do_{action}")(**options)
        except operators.OperatorError as exc:
            raise CommandError(str(exc)) from exc

    def do_add(self, email: str, region: str | None = None, **_o: Any) -> None:
        user, link = operators.add(email, region=region)
        if region:
            self.console.print(f"[green]Added[/] regional administrator {user.email} of "
                               f"{region}.")
        else:
            self.console.print(f"[green]Added[/] operator {user.email}.")
        self._print_link(link)

    def do_link(self, email: str, **_o: Any) -> None:
        self._print_link(operators.new_link(email))

    def do_list(self, **_o: Any) -> None:
        table = Table(title="Operators", title_justify="left")
        for column in ("E-mail", "Role", "Access", "Superuser", "Last sign-in"):
            table.add_column(column)
        regions = operators.regions_by_user()
        for user in operators.operators():
            role = (f"regional administrator of {regions[user.pk]}" if user.pk in regions
                    else "national operator")
            table.add_row(user.email or user.username, role,
                          "[green]active[/]" if user.is_active else "[red]deactivated[/]",
                          "yes" if user.is_superuser else "",
                          f"{user.last_login:%Y-%m-%d %H:%M}" if user.last_login else "never")
        self.console.print(table)

    def do_deactivate(self, email: str, **_o: Any) -> None:
        operators.set_active(email, False)
        self.console.print(f"{email} can no longer use the console; the account is kept.")

    def do_activate(self, email: str, **_o: Any) -> None:
        operators.set_active(email, True)
        self.console.print(f"{email} can use the console again.")

    def _print_link(self, link: str) -> None:
        self.console.print("One-time link to set the password (works once, for 3 days; send "
                           "it to the operator only):")
        self.stdout.write(link)
