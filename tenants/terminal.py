"""Rich console for management commands: full width when the output is not a terminal,
so tables piped to a file or read by a script are never truncated."""

from typing import IO, cast

from django.core.management.base import OutputWrapper
from rich.console import Console


def console_for(stream: IO[str] | OutputWrapper) -> Console:
    isatty = getattr(stream, "isatty", lambda: False)()
    # A command's OutputWrapper is a text stream (TextIOBase) with its style handling.
    return Console(file=cast(IO[str], stream), highlight=False, width=None if isatty else 200)
