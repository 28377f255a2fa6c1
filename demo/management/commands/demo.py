"""`dgbox demo`: the product on this machine with three demo tenants, ready to click through.

Prepares the database (migrations, template schema), launches one region and two
municipalities if they are not there yet, fills them with demo content (services, offices,
news), prints their addresses and logins, then serves
them on http://<slug>.localhost:8000/. With REDIS_URL set a real Celery worker (with beat)
runs beside the web server; without it, tasks run in-process.
"""

import os
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context
from rich.table import Table

from cms.provisioning import set_site_port
from demo.forms import populate as populate_forms
from demo.site import populate
from tenants.addresses import site_port, site_url
from tenants.launch import LaunchRequest, launch_tenant
from tenants.models import Tenant
from tenants.terminal import console_for

DEMO_PASSWORD = "dgbox-demo-2026"  # noqa: S105 - printed on purpose; demo tenants only
DEMO_OPERATOR = "operator"
DEMO_TENANTS = [
    LaunchRequest(name="Северная область", kind="region", slug="severnaya",
                  admin_email="admin@severnaya.example"),
    LaunchRequest(name="Рябиновка", kind="municipality", parent="severnaya", slug="ryabinovka",
                  admin_email="admin@ryabinovka.example"),
    LaunchRequest(name="Zarechensk", kind="municipality", parent="severnaya", slug="zarechensk",
                  admin_email="admin@zarechensk.example", language="en"),
]


class Command(BaseCommand):
    help = "Start dgbox locally with three demo tenants."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true",
                            help="Prepare and print, but do not start the web server.")

    def handle(self, *args, port, no_serve, **options):
        console = console_for(self.stdout)
        serve_links_on(port)
        with console.status("Preparing the database (the first run takes about a minute)..."):
            call_command("migrate", interactive=False, verbosity=0)
        for req in DEMO_TENANTS:
            if not Tenant.objects.filter(slug=req.slug).exists():
                with console.status(f"Launching {req.name}..."):
                    result = launch_tenant(req, admin_password=DEMO_PASSWORD)
                console.print(f"Launched {req.name} in {result.seconds:.2f} s")
            tenant = Tenant.objects.get(slug=req.slug)
            with console.status(f"Writing demo content for {req.name}..."), \
                    tenant_context(tenant):
                populate(tenant.default_language)
                populate_forms(tenant.default_language)
                set_site_port(site_port())  # launched by an earlier demo on another port

        _ensure_operator()
        call_command("usage", "collect", stdout=self.stdout)

        table = Table(title="dgbox demo", title_justify="left")
        for column in ("Tenant", "Site", "Admin login"):
            table.add_column(column)
        table.add_row("National portal", site_url(settings.BASE_DOMAIN) + "/",
                      f"{site_url(settings.BASE_DOMAIN)}/operator/\n{DEMO_OPERATOR} (console)")
        for req in DEMO_TENANTS:
            url = site_url(f"{req.slug}.{settings.BASE_DOMAIN}")
            table.add_row(req.name, url + "/", f"{url}/admin/\n{req.admin_email}")
        console.print(table)
        console.print(f"Demo administrators' and operator's password: [bold]{DEMO_PASSWORD}[/]")

        worker = None
        if settings.REDIS_URL:
            console.print(f"Tasks: real Celery worker with beat on {settings.REDIS_URL}.")
            if not no_serve:
                worker = subprocess.Popen(  # noqa: S603
                    [sys.executable, "-m", "celery", "-A", "dgbox", "worker", "--beat",
                     "--pool=solo", "--loglevel=WARNING",
                     "--schedule", str(settings.STATE_DIR / "celerybeat-schedule")],
                    env=dict(os.environ),
                )
        else:
            console.print("Tasks: no REDIS_URL, so background tasks run in-process right away "
                          "and periodic jobs do not run. Set REDIS_URL to use a real worker.")
        if no_serve:
            return
        try:
            call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
        finally:
            if worker:
                worker.terminate()
                worker.wait(30)


def serve_links_on(port: int) -> None:
    """Every link to the demo's sites uses `port`: those this command prints and launches
    write (one-time password links, Wagtail sites), the portal's, the Celery worker's (in
    e-mails), and those of any dgbox command run beside the demo, such as `dgbox tenant
    create` in another terminal (dgbox.settings.dev reads DGBOX_DEMO_PORT_FILE back). An
    explicit DGBOX_SITE_PORT (e.g. the demo behind a proxy) still wins."""
    if "DGBOX_SITE_PORT" in os.environ:
        return
    settings.DGBOX_SITE_PORT = port
    os.environ["DGBOX_SITE_PORT"] = str(port)  # for the processes started from here
    port_file = getattr(settings, "DGBOX_DEMO_PORT_FILE", None)
    if port_file is not None:
        port_file.parent.mkdir(parents=True, exist_ok=True)
        port_file.write_text(f"{port}\n")


def _ensure_operator():
    """A platform operator in the public schema, for the console at /operator/."""
    user, created = get_user_model().objects.get_or_create(
        username=DEMO_OPERATOR, defaults={"email": "operator@dgbox.example", "is_staff": True,
                                          "is_superuser": True})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
