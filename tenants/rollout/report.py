"""What a rollout leaves behind: its JSON report and the data `dgbox rollout show` prints."""

import getpass
import json
import os
import socket
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings

from tenants.models import Rollout

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RING_PLATFORM, RING_CANARY = 0, 1


def ring_name(ring: int) -> str:
    if ring == RING_PLATFORM:
        return "platform"
    if ring == RING_CANARY:
        return "canary"
    return f"wave {ring - RING_CANARY}"


def rollout_report(rollout: Rollout) -> dict[str, Any]:
    """Everything about a rollout, as JSON-ready data (the report file, `rollout show`)."""
    steps = list(rollout.steps.order_by("ring", "pk"))
    return {
        "rollout": rollout.pk, "release": rollout.release, "fingerprint": rollout.fingerprint,
        "status": rollout.status, "halt_reason": rollout.halt_reason,
        "started_at": rollout.started_at.isoformat(),
        "finished_at": rollout.finished_at.isoformat() if rollout.finished_at else None,
        "seconds": rollout.seconds, "runs": rollout.runs, "started_by": rollout.started_by,
        "options": rollout.options, "summary": rollout.summary,
        "steps": [{"slug": s.slug, "schema": s.schema_name, "kind": s.kind, "ring": s.ring,
                   "ring_name": ring_name(s.ring), "status": s.status, "pending": s.pending,
                   "applied": s.applied, "error": s.error, "health": s.health,
                   "attempts": s.attempts, "seconds": s.seconds,
                   "started_at": s.started_at.isoformat() if s.started_at else None,
                   "finished_at": s.finished_at.isoformat() if s.finished_at else None}
                  for s in steps],
    }


class _ReportOptions(Protocol):
    report_path: str | None


def write_report(report: dict[str, Any], options: _ReportOptions, name: str) -> Path:
    path = Path(options.report_path) if options.report_path else (
        Path(settings.STATE_DIR) / "rollouts" / f"{name}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return path


def options_dict(options: "DataclassInstance") -> dict[str, Any]:
    data = asdict(options)
    data.pop("report_path", None)
    data.pop("new", None)
    return data


def started_by() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no passwd entry in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()} ({os.getpid()})"
