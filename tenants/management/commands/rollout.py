"""`dgbox rollout plan|run|history|show|channel|flag`: staged upgrades of the fleet."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.table import Table

from tenants import flags, lifecycle
from tenants.models import FeatureFlag, ReleaseChannel, Rollout, Tenant
from tenants.rollout import RolloutError, RolloutOptions, build_plan, control, run_rollout
from tenants.rollout.display import RolloutProgress, history_table, plan_tables, rollout_tables
from tenants.rollout.report import rollout_report, started_by
from tenants.terminal import console_for

ON_OFF = {"on": True, "off": False}


def _slugs(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def _threshold(text: str) -> str:
    value = text.strip()
    try:
        number = float(value[:-1]) if value.endswith("%") else int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise CommandError(f"--max-failures '{text}': give a number of tenants (e.g. 2) or a "
                           "percentage of the ring (e.g. 5%).")
    return value


class Command(BaseCommand):
    help = "Plan and run staged upgrades of every tenant; release channels and feature flags."
    # Skips Django's system checks to start fast; `dgbox check` runs them (dgbox/cli.py). A run
    # with something to migrate runs the model and database checks first, as `migrate` would
    # (tenants/rollout/runner.py, check_before_migrating).
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        plan = sub.add_parser("plan", help="Which tenants have which migrations pending.")
        plan.add_argument("--tenants", help="Only these tenants (comma-separated slugs).")
        plan.add_argument("--json", action="store_true", help="Print the plan as JSON.")
        plan.add_argument("--verbose", action="store_true", help="List every tenant to migrate.")

        run = sub.add_parser("run", help="Apply pending migrations ring by ring (resumable).")
        run.add_argument("--canary", help="Slugs added to the canary ring (comma-separated); "
                                          "tenants on the canary channel are always in it.")
        run.add_argument("--wave-size", type=int, default=50,
                         help="Tenants per wave after the canary ring (default 50).")
        run.add_argument("--workers", type=int, default=0,
                         help="Tenants migrated at the same time (default: CPUs, at most 4).")
        run.add_argument("--max-failures", default="0", type=_threshold,
                         help="Failures a ring tolerates before the rollout halts: a number "
                              "or a percentage of the ring, e.g. 5%% (default 0).")
        run.add_argument("--tenants", help="Only these tenants (comma-separated slugs).")
        run.add_argument("--no-health-check", action="store_true",
                         help="Skip the page and schema checks after each tenant.")
        run.add_argument("--signals", choices=["auto", "always"], default="auto",
                         help="pre/post_migrate in a migrated tenant: auto (default): only when "
                              "its migrations create, delete, rename or re-option a model or "
                              "run code; always: as Django's migrate.")
        run.add_argument("--report", help="Write the JSON report here (default: "
                                          "$DGBOX_STATE_DIR/rollouts/rollout-<id>.json).")
        run.add_argument("--new", action="store_true",
                         help="Start a new rollout instead of resuming an unfinished one.")
        run.add_argument("--json", action="store_true", help="Print the report as JSON.")

        history = sub.add_parser("history", help="Past rollouts, newest first.")
        history.add_argument("--limit", type=int, default=20)
        show = sub.add_parser("show", help="One rollout (default: the latest).")
        show.add_argument("id", nargs="?", type=int)
        show.add_argument("--json", action="store_true")

        halt = sub.add_parser("halt", help="Ask a running rollout to start no new tenant.")
        halt.add_argument("id", nargs="?", type=int)
        resume = sub.add_parser("resume", help="Let a halted rollout carry on.")
        resume.add_argument("id", nargs="?", type=int)

        channel = sub.add_parser("channel", help="Show or set a tenant's release channel.")
        channel.add_argument("slug")
        channel.add_argument("channel", nargs="?", choices=ReleaseChannel.values)

        flag = sub.add_parser("flag", help="Feature flags: list, define, set, unset, delete.")
        flag_sub = flag.add_subparsers(dest="flag_action", required=True, metavar="FLAG_ACTION")
        flag_list = flag_sub.add_parser("list", help="Flags, defaults and overrides.")
        flag_list.add_argument("--tenant", help="Each flag's value for this tenant.")
        define = flag_sub.add_parser("define", help="Create a flag or change its defaults.")
        define.add_argument("name")
        define.add_argument("--canary", choices=ON_OFF, help="Default for canary tenants.")
        define.add_argument("--stable", choices=ON_OFF, help="Default for stable tenants.")
        define.add_argument("--description")
        set_ = flag_sub.add_parser("set", help="Switch a flag on or off for one tenant.")
        set_.add_argument("name")
        set_.add_argument("slug")
        set_.add_argument("value", choices=ON_OFF)
        unset = flag_sub.add_parser("unset", help="Remove a tenant's override.")
        unset.add_argument("name")
        unset.add_argument("slug")
        delete = flag_sub.add_parser("delete", help="Delete a flag and its overrides.")
        delete.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        self.console = console_for(self.stdout)
        try:
            getattr(self, f"do_{action}")(**options)
        except (RolloutError, lifecycle.LifecycleError) as exc:
            raise CommandError("\n".join(getattr(exc, "messages", [str(exc)]))) from exc

    def do_plan(self, tenants: str | None = None, json: bool = False,
                verbose: bool = False, **_o: Any) -> None:
        try:
            plan = build_plan(_slugs(tenants) or None)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if json:
            self.stdout.write(_dumps(plan.as_dict()))
            return
        for table in plan_tables(plan, verbose=verbose):
            self.console.print(table)
        if plan.nothing_to_do:
            self.console.print("[green]Nothing to migrate.[/]")
        else:
            self.console.print("Run `dgbox rollout run` to upgrade.")

    def do_run(self, **o: Any) -> None:
        options = RolloutOptions(
            canary=_slugs(o.get("canary")), wave_size=o["wave_size"], workers=o["workers"],
            max_failures=o["max_failures"], tenants=_slugs(o.get("tenants")) or None,
            health_check=not o["no_health_check"], signals=o["signals"],
            report_path=o.get("report"), new=o["new"])
        if options.wave_size < 1:
            raise CommandError("--wave-size must be at least 1.")
        if options.workers < 0:
            raise CommandError("--workers must be 0 (automatic) or more.")
        reporter = RolloutProgress(self.console)
        outcome = run_rollout(options, reporter)
        if o["json"]:
            self.stdout.write(_dumps(outcome.report))
        else:
            if outcome.rollout is not None and not outcome.rollout.summary.get("nothing_to_do"):
                for table in rollout_tables(outcome.report):
                    self.console.print(table)
            self.console.print(f"Report: {outcome.report_path}", markup=False)
        if not outcome.ok:
            reason = outcome.report.get("halt_reason") or outcome.status
            raise CommandError(f"Rollout {outcome.status}: {reason}\nFix the cause, then run "
                               "`dgbox rollout run` again: it resumes where it stopped.")
        if not o["json"] and outcome.rollout is not None:  # completed: it has its row
            self.console.print(f"[green]Rollout {outcome.rollout.pk} completed[/] in "
                               f"{outcome.report['this_run_seconds']:.1f} s.")

    def do_history(self, limit: int = 20, **_o: Any) -> None:
        self.console.print(history_table(Rollout.objects.all()[:limit]))

    def do_show(self, id: int | None = None, json: bool = False,
                **_o: Any) -> None:
        rollout = (Rollout.objects.filter(pk=id) if id else Rollout.objects.all()).first()
        if rollout is None:
            raise CommandError(f"No rollout {id}." if id else "No rollout yet.")
        report = rollout_report(rollout)
        if json:
            self.stdout.write(_dumps(report))
            return
        for table in rollout_tables(report):
            self.console.print(table)

    def _running_id(self, id: int | None) -> int:
        if id:
            return id
        running = Rollout.objects.filter(status=Rollout.Status.RUNNING).first()
        if running is None:
            raise CommandError("No rollout is running (see `dgbox rollout show`).")
        return running.pk

    def do_halt(self, id: int | None = None, **_o: Any) -> None:
        try:
            rollout = control.halt(self._running_id(id), by=started_by())
        except control.ControlError as exc:
            raise CommandError(str(exc)) from exc
        self.console.print(f"Rollout {rollout.pk} halted: tenants being migrated finish, no "
                           f"new one starts until `dgbox rollout resume {rollout.pk}`.",
                           markup=False)

    def do_resume(self, id: int | None = None, **_o: Any) -> None:
        try:
            rollout = control.resume(self._running_id(id), by=started_by())
        except control.ControlError as exc:
            raise CommandError(str(exc)) from exc
        self.console.print(f"Rollout {rollout.pk} resumed.", markup=False)

    def do_channel(self, slug: str, channel: str | None = None, **_o: Any) -> None:
        tenant = lifecycle.get_tenant(slug)
        if channel:
            tenant.release_channel = channel
            tenant.save(update_fields=["release_channel", "updated_at"])
        self.console.print(f"{tenant.name}: release channel {tenant.release_channel}.")

    def do_flag(self, flag_action: str, **o: Any) -> None:
        if flag_action == "list":
            tenant = lifecycle.get_tenant(o["tenant"]) if o.get("tenant") else None
            self._flag_list(tenant)
        elif flag_action == "define":
            flag = flags.define(o["name"], canary=_switch(o.get("canary")),
                                stable=_switch(o.get("stable")),
                                description=o.get("description"))
            self.console.print(f"Flag {flag.name}: canary {_on(flag.canary)}, "
                               f"stable {_on(flag.stable)}.")
        elif flag_action in ("set", "unset"):
            tenant = lifecycle.get_tenant(o["slug"])
            if flag_action == "set" and not FeatureFlag.objects.filter(name=o["name"]).exists():
                self.console.print(f"[yellow]Note: flag {o['name']} is not defined; the "
                                   "override applies once the code checks it.[/]")
            value = ON_OFF[o["value"]] if flag_action == "set" else None
            flags.set_for_tenant(tenant, o["name"], value)
            state = "default" if value is None else _on(value)
            self.console.print(f"Flag {o['name']} for {tenant.slug}: {state} "
                               f"(now {_on(flags.is_enabled(o['name'], tenant))}).")
        elif flag_action == "delete":
            if not flags.delete(o["name"]):
                raise CommandError(f"No flag {o['name']} (see `dgbox rollout flag list`).")
            self.console.print(f"Flag {o['name']} deleted.")

    def _flag_list(self, tenant: Tenant | None) -> None:
        table = Table(title="Feature flags", title_justify="left")
        columns = ["Flag", "Canary", "Stable", "Overrides", "Description"]
        if tenant:
            columns.insert(1, f"{tenant.slug} ({tenant.release_channel})")
        for column in columns:
            table.add_column(column)
        overrides: dict[str, list[str]] = {}
        for slug, tenant_flags in Tenant.objects.exclude(flags={}).values_list("slug", "flags"):
            for name, value in (tenant_flags or {}).items():
                overrides.setdefault(name, []).append(f"{slug} {_on(value)}")
        for flag in FeatureFlag.objects.all():
            row = [flag.name, _on(flag.canary), _on(flag.stable),
                   ", ".join(overrides.get(flag.name, [])), flag.description]
            if tenant:
                row.insert(1, _on(flags.is_enabled(flag.name, tenant)))
            table.add_row(*row)
        self.console.print(table)


def _switch(value: str | None) -> bool | None:
    """`on`/`off` from the command line as a bool; None when it was not given."""
    return ON_OFF[value] if value else None


def _on(value: bool) -> str:
    return "on" if value else "off"


def _dumps(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
