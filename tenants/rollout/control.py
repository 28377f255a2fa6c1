"""Halting and resuming a running rollout (`dgbox rollout halt|resume`, the console).

A rollout runs in one process (`dgbox rollout run`: the deployment's job or a shell). Halting
asks that process, through the rollout's row, to start no new tenant: those being migrated
finish, then it waits. Resuming clears the request and the process carries on where it
stopped. Nothing here starts a rollout: that stays with the deployment and the CLI. If the
waiting process is stopped meanwhile (a job's deadline, Ctrl-C), the rollout is interrupted as
any other and the next `dgbox rollout run` resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from tenants.models import Rollout, RolloutStep

POLL_SECONDS = 2.0


class ControlError(Exception):
    """The rollout cannot be halted or resumed now; `code` says why ("not_running",
    "already_halted", "not_halted")."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _running(pk: int) -> Rollout:
    rollout = Rollout.objects.filter(pk=pk).first()
    if rollout is None or rollout.status != Rollout.Status.RUNNING:
        raise ControlError(f"Rollout {pk} is not running: only a running rollout can be "
                           "halted or resumed (see `dgbox rollout show`).", "not_running")
    return rollout


def halt(pk: int, *, by: str) -> Rollout:
    """Ask the running rollout `pk` to start no new tenant until resumed."""
    rollout = _running(pk)
    updated = Rollout.objects.filter(pk=pk, status=Rollout.Status.RUNNING,
                                     halt_requested_at__isnull=True).update(
        halt_requested_at=timezone.now(), halt_requested_by=by[:200])
    if not updated:
        raise ControlError(f"Rollout {pk} is already halted by {rollout.halt_requested_by}.",
                           "already_halted")
    rollout.refresh_from_db()
    return rollout


def resume(pk: int, *, by: str) -> Rollout:
    """Let the halted rollout `pk` carry on."""
    rollout = _running(pk)
    updated = Rollout.objects.filter(pk=pk, halt_requested_at__isnull=False).update(
        halt_requested_at=None, halt_requested_by="")
    if not updated:
        raise ControlError(f"Rollout {pk} is not halted.", "not_halted")
    rollout.refresh_from_db()
    return rollout


def halt_requested(pk: int) -> bool:
    return Rollout.objects.filter(pk=pk, halt_requested_at__isnull=False).exists()


def wait_while_halted(pk: int, *, message: Callable[[str], None],
                      sleep: Callable[[float], Any] = time.sleep) -> bool:
    """Called by the runner before it starts a tenant: returns at once when the rollout is
    not halted, else says so once and waits until it is resumed. True if it waited."""
    if not halt_requested(pk):
        return False
    by = Rollout.objects.filter(pk=pk).values_list("halt_requested_by", flat=True).first()
    message(f"Halted by {by}: no new tenant starts until `dgbox rollout resume {pk}` or "
            "Resume in the console.")
    while halt_requested(pk):
        sleep(POLL_SECONDS)
    message(f"Rollout {pk} resumed.")
    return True


def progress(rollout: Rollout) -> dict[str, Any]:
    """What the console's live view shows: status, halt, counts of steps by status."""
    counts = dict.fromkeys(RolloutStep.Status.values, 0)
    for status, n in _counts(rollout):
        counts[status] = n
    total = sum(counts.values())
    finished = counts[RolloutStep.Status.DONE] + counts[RolloutStep.Status.FAILED]
    return {
        "id": rollout.pk, "release": rollout.release, "status": rollout.status,
        "status_label": str(rollout.get_status_display()),
        "halted": rollout.halt_requested_at is not None,
        "halted_by": rollout.halt_requested_by,
        "counts": counts, "total": total, "finished": finished,
        "percent": round(100 * finished / total) if total else 100,
        "running": list(rollout.steps.filter(status=RolloutStep.Status.RUNNING)
                        .values_list("slug", flat=True)[:20]),
        "halt_reason": rollout.halt_reason,
    }


def _counts(rollout: Rollout) -> list[tuple[str, int]]:
    rows: dict[str, int] = {}
    for status in rollout.steps.values_list("status", flat=True):
        rows[status] = rows.get(status, 0) + 1
    return list(rows.items())
