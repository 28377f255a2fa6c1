"""`dgbox media move-to-s3`: tenants' public media from local disk to S3 (infra/media_move.py)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra import media_move, s3
from tenants.models import Tenant
from tenants.terminal import console_for


class Command(BaseCommand):
    help = "Public media (page images, documents) of the tenants: move local files to S3."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        move = sub.add_parser(
            "move-to-s3",
            help="Copy MEDIA_ROOT/<schema>/ of each tenant to tenants/<schema>/media/ on S3, "
                 "checking every copy's SHA-256; safe to run again (done files are skipped).")
        move.add_argument("--tenant", action="append", metavar="SLUG",
                          help="Only this tenant (repeatable). Default: every launched one.")
        move.add_argument("--delete-local", action="store_true",
                          help="Delete each local file once its S3 copy is verified.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, "do_" + action.replace("-", "_"))(**options)

    def do_move_to_s3(self, tenant: list[str] | None = None, delete_local: bool = False,
                      **_o: Any) -> None:
        tenants = Tenant.objects.launched().order_by("slug")
        if tenant:
            tenants = tenants.filter(slug__in=tenant)
            missing = sorted(set(tenant) - set(tenants.values_list("slug", flat=True)))
            if missing:
                raise CommandError(f"No tenant {', '.join(missing)}: see `dgbox tenant list` "
                                   "for the slugs. Nothing was moved.")
        chosen = list(tenants)
        try:  # one cheap listing: S3 answers and the bucket exists, before any file is read
            next(s3.iter_objects(s3.TMP_PREFIX), None)
        except s3.S3Error as err:
            raise CommandError(f"{err}. Nothing was moved.") from err
        files = {t.schema_name: list(media_move.local_files(
            media_move.local_root(settings.MEDIA_ROOT, t.schema_name))) for t in chosen}
        console = console_for(self.stdout)
        reports = []
        with Progress(TextColumn("Moving media"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), TextColumn("{task.description}"), console=console,
                      disable=not console.is_terminal) as progress:
            task = progress.add_task("", total=sum(len(found) for found in files.values()))
            for t in chosen:

                def advance(name: str, _outcome: media_move.Outcome, slug: str = t.slug) -> None:
                    progress.update(task, advance=1, description=f"{slug}: {name}")

                reports.append(media_move.move_tenant(
                    t.schema_name, settings.MEDIA_ROOT, delete_local=delete_local,
                    on_file=advance))
        failed = False
        for report in reports:
            counts = ", ".join(f"{n} {outcome}" for outcome, n in report.counts.items() if n)
            console.print(f"{report.schema_name}: {counts or 'no local media'}; "
                          f"{filesizeformat(report.bytes_moved)} moved"
                          + (f", {report.deleted_local} local files deleted"
                             if delete_local else ""))
            for name, problem in report.problems:
                console.print(f"  [red]kept[/] {name}: {problem}")
            failed = failed or not report.ok
        if failed:
            raise CommandError("Some files were not moved (listed above); their local copies "
                               "are kept. Fix them and run the command again.")
