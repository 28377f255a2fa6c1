"""Rich console for management commands: full width when the output is not a terminal,
so tables piped to a file or read by a script are never truncated."""

from typing import IO

from rich.console import Console


def console_for(stream: IO[str]) -> Console:
    isatty = getattr(stream, "isatty", lambda: False)()
    return Console(file=stream, highlight=False, width=None if isatty else 200)
