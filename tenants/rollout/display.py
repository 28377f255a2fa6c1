"""How a rollout looks in the terminal (`dgbox rollout ...`): plans, progress and history."""

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from tenants.models import Rollout

from .plan import Key, Plan, SchemaPlan
from .runner import Reporter
from .steps import StepResult

STATUS_STYLE = {"completed": "green", "done": "green", "partial": "yellow", "running": "cyan",
                "pending": "dim", "halted": "red", "failed": "red", "superseded": "dim"}


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def plan_tables(plan: Plan, *, verbose: bool = False) -> list[Table]:
    """The version map (tenants grouped by what they lack) and, with `verbose` or when few
    tenants have work, one row per tenant with work."""
    out: list[Table] = []
    head = Table(show_header=False, box=None)
    head.add_row("[bold]Release[/]", f"{plan.release} (migrations {plan.fingerprint})")

    def state(p: SchemaPlan | None) -> str:
        if p is None:
            return "[red]missing[/]: created by the rollout"
        if p.work:
            return f"[yellow]{len(p.work)} pending[/]: " + ", ".join(_keys(p.work, 6))
        return "[green]up to date[/]" + (f" ({len(p.bookkeeping)} to record)"
                                          if p.bookkeeping else "")

    head.add_row("[bold]Public schema[/]", state(plan.public))
    template_state = state(plan.template)
    if plan.template is not None and not plan.template_fresh:
        template_state += "; launch snapshot stale: refreshed by the rollout"
    head.add_row("[bold]Template[/]", template_state)
    with_work = plan.tenants_with_work
    head.add_row("[bold]Tenants[/]",
                 f"{len(plan.tenants)}: {len(with_work)} to migrate, "
                 f"{len(plan.tenants_with_bookkeeping_only)} to record only, "
                 f"{sum(1 for t in plan.tenants if t.up_to_date)} up to date"
                 + (f", [red]{len(plan.missing_schemas)} without a schema[/]"
                    if plan.missing_schemas else ""))
    out.append(head)

    versions = Table(title="Version map", title_justify="left")
    for column in ("Tenants", "Pending migrations", "Last rolled-out release"):
        versions.add_column(column)
    for group in plan.version_map():
        pending = ", ".join(group["pending"][:6]) + (
            f" (+{len(group['pending']) - 6})" if len(group["pending"]) > 6 else "")
        releases = ", ".join(f"{k}: {v}" for k, v in group["releases"].items())
        versions.add_row(str(len(group["tenants"])), pending or "[green]none[/]", releases)
    out.append(versions)

    if with_work and (verbose or len(with_work) <= 20):
        table = Table(title="Tenants to migrate", title_justify="left")
        for column in ("Tenant", "Channel", "Status", "Release", "Pending"):
            table.add_column(column)
        for t in with_work:
            table.add_row(t.slug, t.row["release_channel"], t.row["status"],
                          t.row["release"] or "-", ", ".join(_keys(t.work, 4)))
        out.append(table)
    return out


def _keys(keys: list[Key], limit: int) -> list[str]:
    names = [f"{a}.{n}" for a, n in keys]
    return names[:limit] + ([f"+{len(names) - limit} more"] if len(names) > limit else [])


def history_table(rollouts: Iterable[Rollout]) -> Table:
    table = Table(title="Rollouts", title_justify="left")
    for column in ("#", "Release", "Status", "Started", "Runs", "Seconds", "Tenants", "Failed",
                   "Started by"):
        table.add_column(column, justify="right" if column in ("#", "Runs", "Seconds") else
                         "left")
    for r in rollouts:
        counts = r.summary.get("counts", {})
        tenants = ("nothing to do" if r.summary.get("nothing_to_do")
                   else f"{counts.get('done', 0)}/{sum(counts.values())}")
        table.add_row(str(r.pk), r.release, styled(r.status), f"{r.started_at:%Y-%m-%d %H:%M}",
                      str(r.runs), f"{r.seconds:.1f}" if r.seconds is not None else "-",
                      tenants, str(counts.get("failed", 0)), r.started_by)
    return table


def rollout_tables(report: dict[str, Any]) -> list[Table]:
    """One rollout: its header, its rings, and the steps that did not succeed."""
    head = Table(show_header=False, box=None)
    head.add_row("[bold]Rollout[/]", f"{report['rollout']} to {report['release']}")
    head.add_row("[bold]Status[/]", styled(report["status"]))
    if report.get("halt_reason"):
        head.add_row("[bold]Why[/]", escape(report["halt_reason"]))
    head.add_row("[bold]Started[/]", f"{report['started_at']} by {report['started_by']}")
    head.add_row("[bold]Runs / seconds[/]", f"{report['runs']} / {report['seconds']}")
    out = [head]
    rings = Table(title="Rings", title_justify="left")
    for column in ("Ring", "Steps", "Done", "Failed", "Pending", "Running"):
        rings.add_column(column)
    for ring in report["summary"].get("rings", []):
        rings.add_row(ring["name"], str(ring["steps"]), str(ring["done"]), str(ring["failed"]),
                      str(ring["pending"]), str(ring["running"]))
    out.append(rings)
    trouble = [s for s in report["steps"] if s["status"] != "done"]
    if trouble:
        table = Table(title="Not done", title_justify="left")
        for column in ("Tenant", "Ring", "Status", "Attempts", "Error"):
            table.add_column(column)
        for s in trouble:
            table.add_row(s["slug"], s["ring_name"], styled(s["status"]), str(s["attempts"]),
                          escape(s["error"] or ""))
        out.append(table)
    return out


class RolloutProgress(Reporter):
    """A progress bar per ring on a terminal; one line per ring and per failure otherwise."""

    def __init__(self, console: Console):
        self.console = console
        self.live = console.is_terminal
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.failed = 0

    def message(self, text: str) -> None:
        self.console.print(text, markup=False)

    def ring_started(self, ring: int, name: str, total: int) -> None:
        self.failed = 0
        if self.live:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     MofNCompleteColumn(), TextColumn("{task.fields[failed]}"),
                                     TimeElapsedColumn(), console=self.console)
            self.progress.start()
            self.task = self.progress.add_task(f"Ring {name}", total=total, failed="")

    def step_done(self, result: StepResult) -> None:
        if result.status == "failed":
            self.failed += 1
            self.console.print(f"[red]failed[/] {escape(result.slug)}: {escape(result.error)}")
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1,
                                 failed=f"[red]{self.failed} failed[/]" if self.failed else "")

    def ring_finished(self, ring: int, name: str, done: int, failed: int) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
        else:
            self.console.print(f"Ring {name}: {done} done, {failed} failed")
