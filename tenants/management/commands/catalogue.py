"""`dgbox catalogue rebuild|openapi`: the national catalogue (tenants/catalogue/)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from drf_spectacular.renderers import OpenApiYamlRenderer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tenants import catalogue
from tenants.catalogue import api
from tenants.models import Tenant
from tenants.terminal import console_for


def openapi_yaml() -> str:
    """The base domain's OpenAPI document as YAML (the committed copy's exact text), written
    by drf-spectacular's own YAML renderer."""
    rendered: bytes = OpenApiYamlRenderer().render(  # type: ignore[no-untyped-call]
        api.document(), renderer_context={})
    return rendered.decode("utf-8")


class Command(BaseCommand):
    help = "The national catalogue of services: rebuild it from the tenants' sites."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rebuild = sub.add_parser(
            "rebuild", help="Index every launched tenant's published service pages again "
                            "(safe to repeat; a suspended or archived tenant's stay hidden).")
        rebuild.add_argument("--tenant", action="append", metavar="SLUG",
                             help="Only this tenant (repeatable). Default: every tenant.")
        openapi = sub.add_parser("openapi", help="Print the OpenAPI document of the base "
                                                 "domain's API (YAML).")
        openapi.add_argument("--output", metavar="PATH",
                             help="Write it to PATH (docs/api/openapi-national-v1.yaml).")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"do_{action}")(**options)

    def do_rebuild(self, tenant: list[str] | None = None, **_o: Any) -> None:
        tenants = (Tenant.objects.launched().exclude(status=Tenant.Status.PROVISIONING)
                   .select_related("parent").order_by("slug"))
        if tenant:
            tenants = tenants.filter(slug__in=tenant)
            missing = sorted(set(tenant) - set(tenants.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No launched tenant {', '.join(missing)}: see `dgbox "
                                   "tenant list` for the slugs.")
        chosen = list(tenants)
        console = console_for(self.stdout)
        failed: list[tuple[str, Exception]] = []
        entries = added = removed = 0
        with Progress(TextColumn("Indexing"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console,
                      disable=not console.is_terminal) as progress:
            task = progress.add_task("catalogue", total=len(chosen))
            for t in chosen:
                try:
                    result = catalogue.rebuild(t)
                except Exception as exc:  # noqa: BLE001 - one tenant's failure is reported
                    failed.append((t.slug, exc))
                else:
                    entries += result.entries
                    added += result.added
                    removed += result.removed
                progress.advance(task)
        for slug, error in failed:
            console.print(f"[red]failed[/] {slug}: {error}")
        console.print(f"Indexed {len(chosen) - len(failed)} of {len(chosen)} tenants: "
                      f"{entries} services ({added} new, {removed} removed).")
        if failed:
            raise CommandError(f"{len(failed)} tenants could not be indexed; run the command "
                               "again for them with --tenant.")

    def do_openapi(self, output: str | None = None, **_o: Any) -> None:
        text = openapi_yaml()
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {output}.")
        else:
            self.stdout.write(text, ending="")
