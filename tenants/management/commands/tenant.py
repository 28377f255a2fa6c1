"""`dgbox tenant create|list|show|suspend|resume|archive|backup|restore|delete`."""

from argparse import ArgumentTypeError
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from rich.table import Table

from tenants import lifecycle, tenant_cache
from tenants.addresses import site_url
from tenants.launch import LaunchRequest, launch_tenant
from tenants.lifecycle import backup
from tenants.models import Domain, Tenant
from tenants.terminal import columns, console_for

LAUNCH_STEPS = ["validated", "template", "registered", "schema", "site", "administrator"]
#: Tenants `tenant list` prints unless told otherwise (`--limit N`, `--all`).
LIST_LIMIT = 50
LIST_COLUMNS = ("Slug", "Name", "Kind", "Parent", "Status", "Domain", "Created")


#: The largest page, page size or offset `tenant list` takes: (page - 1) x size stays within
#: PostgreSQL's bigint, which an OFFSET is (a larger one was a DataError and a traceback).
LIST_MAXIMUM = 10**9


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `minimum` to LIST_MAXIMUM."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= LIST_MAXIMUM:
            raise ArgumentTypeError(
                f"{text!r} is not a whole number from {minimum} to {LIST_MAXIMUM:,}")
        return value
    return parse


class Command(BaseCommand):
    help = "Launch and manage tenants (regions and municipalities)."
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="Launch a new tenant.")
        create.add_argument("--name", required=True, help="Display name, e.g. 'Рябиновка'.")
        create.add_argument("--kind", required=True, choices=["region", "municipality"])
        create.add_argument("--parent", help="Slug of the region a municipality belongs to.")
        create.add_argument("--admin-email", required=True,
                            help="E-mail of the tenant's first administrator.")
        create.add_argument("--slug", help="Web address and schema name (default: from name).")
        create.add_argument("--domain", help="Host name (default: <slug>.<base domain>).")
        create.add_argument("--language", help="Default language (ru or en).")
        create.add_argument("--time-zone", help="IANA time zone, e.g. Asia/Yekaterinburg.")
        create.add_argument("--reference-prefix",
                            help="Starts its case references, 2-5 capital latin letters, "
                                 "unique on the platform (default: from the slug).")
        lst = sub.add_parser("list", help="List tenants by kind and name, "
                                          f"{LIST_LIMIT} at a time.")
        lst.add_argument("--status", choices=[s.value for s in Tenant.Status])
        lst.add_argument("--search", metavar="TEXT",
                         help="Only tenants whose slug, schema, name or a domain contains TEXT, "
                              "in any case.")
        size = lst.add_mutually_exclusive_group()
        size.add_argument("--limit", type=whole_number(0), default=LIST_LIMIT, metavar="N",
                          help=f"Tenants per page (default {LIST_LIMIT}; 0: every one).")
        size.add_argument("--all", dest="limit", action="store_const", const=0,
                          help="Every tenant (as --limit 0).")
        start = lst.add_mutually_exclusive_group()
        start.add_argument("--page", type=whole_number(1), metavar="P",
                           help="Page P of N tenants each (default 1).")
        start.add_argument("--offset", type=whole_number(0), default=0, metavar="N",
                           help="Skip the first N tenants.")
        for name, text in [("show", "Show one tenant."), ("suspend", "Show a maintenance page."),
                           ("resume", "Serve the site again."),
                           ("archive", "Answer 410 'no longer available'; keep all data.")]:
            p = sub.add_parser(name, help=text)
            p.add_argument("slug")
        rfr = sub.add_parser("refresh", help=(
            "Show every change now: what the tenant's cache keeps (published pages, the "
            "site's chrome, forms, workflows, templates) is read from the database again on "
            "the next request. Only needed after a change made around dgbox (SQL by hand), or "
            "one saved while Redis was unreachable; other changes show at once."))
        which = rfr.add_mutually_exclusive_group(required=True)
        which.add_argument("slug", nargs="?")
        which.add_argument("--all", dest="every", action="store_true", help="Every tenant.")
        bkp = sub.add_parser("backup", help="Back up one tenant (schema, files, metadata).")
        bkp.add_argument("slug")
        bkp.add_argument("--output", default="s3", metavar="s3|PATH",
                         help="s3 (default): backups/<slug>/<timestamp>.tar.gz in the bucket; "
                              "or a local file or directory for the archive.")
        rst = sub.add_parser("restore", help="Restore a backup as a new tenant.")
        rst.add_argument("source", metavar="BACKUP",
                         help="S3 key (backups/<slug>/<timestamp>.tar.gz) or local path.")
        rst.add_argument("--slug", required=True, help="Slug of the new tenant.")
        rst.add_argument("--domain", help="Host name (default: <slug>.<base domain>).")
        dlt = sub.add_parser("delete", help="Export, then delete a tenant for good.")
        dlt.add_argument("slug")
        dlt.add_argument("--confirm", metavar="SLUG", help="The tenant's slug again.")
        dlt.add_argument("--output", default="s3", metavar="s3|PATH",
                         help="Where the export archive goes (as for backup).")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        self.console = console_for(self.stdout)
        try:
            getattr(self, f"do_{action}")(**options)
        except ValidationError as exc:
            raise CommandError("\n".join(exc.messages)) from exc
        except (backup.BackupError, backup.RestoreError) as exc:
            raise CommandError(str(exc)) from exc

    def do_create(self, **o: Any) -> None:
        req = LaunchRequest(
            name=o["name"], kind=o["kind"], parent=o.get("parent"), admin_email=o["admin_email"],
            slug=o.get("slug"), domain=o.get("domain"), language=o.get("language"),
            time_zone=o.get("time_zone"), reference_prefix=o.get("reference_prefix"),
        )
        with self.console.status("Launching tenant...") as status:
            def progress(step: str) -> None:
                status.update(f"Launching tenant: {step} "
                              f"({LAUNCH_STEPS.index(step) + 1}/{len(LAUNCH_STEPS)})")
            result = launch_tenant(req, progress=progress)
        t = result.tenant
        self.console.print(f"[green]Launched[/] {t.name} ({t.kind}) "
                           f"in {result.seconds:.2f} s (from a {result.method}).")
        if result.template_refreshed:
            self.console.print("[yellow]The template schema was stale and has been migrated "
                               "first; the next launches are fast again.[/]")
        self.console.print(f"  Site:  {site_url(result.domain)}/")
        self.console.print(f"  Admin: {site_url(result.domain)}/admin/ as {result.admin_email}")
        self.console.print(f"  Case references: {t.reference_prefix}-<year>-<number>")
        self.console.print("  One-time link to set the administrator's password "
                           "(valid 3 days, send it to them):")
        self.console.print(f"  {result.set_password_url}", markup=False)

    def do_list(self, status: str | None = None, search: str | None = None,
                limit: int = LIST_LIMIT, offset: int = 0, page: int | None = None,
                **_o: Any) -> None:
        """A page of tenants, sorted, filtered and sliced in SQL: three queries (the count,
        the page, its domains) and plain columns, whatever the size of the fleet."""
        if page is not None:
            if not limit and page > 1:
                raise CommandError("--page counts pages of --limit tenants; with --all (or "
                                   "--limit 0) there is only page 1.")
            offset = (page - 1) * limit
        search = (search or "").strip()
        tenants = Tenant.objects.launched()
        if status:
            tenants = tenants.filter(status=status)
        if search:
            tenants = tenants.matching(search)
        total = tenants.count()
        ordered = tenants.order_by("kind", "name", "slug")
        rows = list((ordered[offset:offset + limit] if limit else ordered[offset:]).values_list(
            "pk", "slug", "name", "kind", "parent__slug", "status", "created_at"))
        domains: dict[int, list[str]] = defaultdict(list)
        if rows:
            for tenant_id, domain in Domain.objects.filter(
                    tenant__in=[row[0] for row in rows]).order_by("domain").values_list(
                    "tenant_id", "domain"):
                domains[tenant_id].append(domain)
            self.stdout.write(columns(LIST_COLUMNS, [
                (slug, name, kind, parent or "-", state, ", ".join(domains[pk]) or "-",
                 f"{created:%Y-%m-%d}")
                for pk, slug, name, kind, parent, state, created in rows]))
        self.stdout.write(list_footer(total=total, offset=offset, shown=len(rows), limit=limit,
                                      filtered=bool(status or search)))

    def do_show(self, slug: str, **_o: Any) -> None:
        t = lifecycle.get_tenant(slug)
        table = Table(show_header=False, box=None)
        rows = [("Name", t.name), ("Slug", t.slug), ("Kind", t.kind),
                ("Parent", str(t.parent) if t.parent else "-"), ("Status", t.status),
                ("Schema", t.schema_name),
                ("Domains", ", ".join(d.domain for d in t.domains.all())),
                ("Language", t.default_language), ("Time zone", t.time_zone),
                ("Reference prefix", t.reference_prefix or "-"),
                ("Created", f"{t.created_at:%Y-%m-%d %H:%M %Z}"),
                ("Municipalities", str(t.children.count()))]
        for key, value in rows:
            table.add_row(f"[bold]{key}[/]", value)
        self.console.print(table)

    def do_suspend(self, slug: str, **_o: Any) -> None:
        t = lifecycle.suspend(slug)
        self.console.print(f"{t.name} is suspended: citizens see a maintenance page.")

    def do_resume(self, slug: str, **_o: Any) -> None:
        t = lifecycle.resume(slug)
        self.console.print(f"{t.name} is active again.")

    def do_archive(self, slug: str, **_o: Any) -> None:
        t = lifecycle.archive(slug)
        self.console.print(f"{t.name} is archived: its site answers 'no longer available' "
                           "(410); all data is kept.")

    def do_refresh(self, slug: str | None = None, every: bool = False, **_o: Any) -> None:
        if every:
            schemas = list(Tenant.objects.order_by("slug").values_list("schema_name", flat=True))
        else:
            if not slug:
                raise CommandError("Give a tenant's slug, or --all.")
            schemas = [lifecycle.get_tenant(slug).schema_name]
        for schema in schemas:
            tenant_cache.changed(schema)
        self.console.print(f"Refreshed {len(schemas)} tenant(s): their next page views read "
                           "the database again.")

    def do_backup(self, slug: str, output: str = "s3", **_o: Any) -> None:
        with self.console.status(f"Backing up {slug}..."):
            result = backup.backup_tenant(slug, output=output)
        meta = result.metadata
        self.console.print(f"[green]Backed up[/] {slug}: {len(meta['row_counts'])} tables, "
                           f"{meta['rows']} rows, {result.files} files.")
        self.console.print(f"  Archive: {result.key} ({result.size} bytes, sha256 "
                           f"{result.sha256})", markup=False)
        self.console.print(f"  Files:   {result.files_prefix}", markup=False)

    def do_restore(self, source: str, slug: str, domain: str | None = None,
                   **_o: Any) -> None:
        with self.console.status(f"Restoring {source} as {slug}..."):
            result = backup.restore_tenant(source, slug=slug, domain=domain)
        self.console.print(f"[green]Restored[/] {result.tenant.name} as {result.tenant.slug}: "
                           f"{result.tables} tables, {result.rows} rows, {result.files} files "
                           "verified.")
        self.console.print(f"  Site: {site_url(result.domain)}/", markup=False)

    def do_delete(self, slug: str, confirm: str | None = None, output: str = "s3",
                  **_o: Any) -> None:
        result = lifecycle.delete(slug, confirm=confirm, output=output)
        self.console.print(f"[green]Deleted[/] {slug}: schema {result.schema_name} dropped, "
                           f"{result.files_deleted} files deleted.")
        self.console.print(f"  Export: {result.backup_key} ({result.backup_size} bytes)",
                           markup=False)
        self.console.print(f"  Audit:  {result.audit_key}", markup=False)


def list_footer(*, total: int, offset: int, shown: int, limit: int, filtered: bool) -> str:
    """The line under `tenant list`: what was shown of how many, and how to see more."""
    if not total:
        return (_("No tenant matches the search or status given.") if filtered else
                _("There are no tenants yet: launch one with dgbox tenant create."))
    if not shown:
        pages = -(-total // limit) if limit else 1
        return _("Nothing from number %(first)s on: there are %(total)s; the last page is "
                 "--page %(pages)s.") % {"first": offset + 1, "total": total, "pages": pages}
    figures = {"first": offset + 1, "last": offset + shown, "total": total}
    if offset + shown < total:  # there is more, so limit > 0
        more = f"--page {offset // limit + 2}" if offset % limit == 0 else \
            f"--offset {offset + shown}"
        return _("Showing %(first)s-%(last)s of %(total)s; next: %(next)s, all: --all.") % {
            **figures, "next": more}
    return _("Showing %(first)s-%(last)s of %(total)s.") % figures
