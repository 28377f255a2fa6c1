"""`dgbox api-key issue --tenant SLUG --client NAME`: a key for scripted setups.

The key is the only line written to standard output (what a script captures); everything else
goes to standard error. Issuing is audited like the admin's "Issue a new key", with the system
account running the command as the actor (services/api/clients.py).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import tenant_context

from services.api import clients
from services.api.forms import MAX_RATE_PER_MINUTE
from services.api.models import ApiClient
from services.api.scopes import Scope
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Issue an API key for a tenant's API client (printed once, on standard output)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        issue = sub.add_parser("issue", help="Issue a new key for a client.")
        issue.add_argument("--tenant", metavar="SLUG", required=True,
                           help="The tenant whose client it is.")
        issue.add_argument("--client", metavar="NAME", required=True,
                           help="The client's name, as under Settings → API clients.")
        issue.add_argument("--create", action="store_true",
                           help="Register the client first if it does not exist.")
        issue.add_argument("--scope", action="append", default=[], metavar="SCOPE",
                           choices=Scope.values,
                           help="With --create: a scope to grant (repeat for more; "
                                "cases:work is given in the admin, with its groups).")
        issue.add_argument("--rate", type=int, default=600, metavar="N",
                           help="With --create: calls per minute (default 600).")

    def handle(self, *args, action, tenant, client, create, scope, rate, **options):
        found = Tenant.objects.launched().filter(slug=tenant).first()
        if found is None:
            raise CommandError(f"No tenant {tenant!r}: see `dgbox tenant list` for the slugs.")
        if Scope.CASE_WORK in scope:
            raise CommandError("cases:work needs a service account in case-work groups: "
                               "register that client under Settings → API clients.")
        if not 1 <= rate <= MAX_RATE_PER_MINUTE:
            raise CommandError(f"--rate must be between 1 and {MAX_RATE_PER_MINUTE}.")
        name = " ".join((client or "").replace("\x00", "").split())
        with tenant_context(found):
            api_client = ApiClient.objects.filter(name__iexact=name).first()
            if api_client is None and not create:
                raise CommandError(f"No API client {name!r} in {tenant}: register it under "
                                   "Settings → API clients, or pass --create.")
            if api_client is None:
                if not name or len(name) > 120:
                    raise CommandError("Give the client a name of 1 to 120 characters.")
                api_client = clients.create_client(name=name, scopes=scope,
                                                   rate_per_minute=rate)
                self.stderr.write(f"Registered the API client {name!r} in {tenant}.")
            if not api_client.is_active:
                raise CommandError(f"The API client {name!r} is deactivated: reactivate it "
                                   "under Settings → API clients first.")
            issued = clients.issue_key(api_client)
        connection.set_schema_to_public()
        self.stderr.write(f"Issued key {issued.key.prefix} for {api_client.name!r}; it is "
                          "shown once, below.")
        self.stdout.write(issued.plaintext)
