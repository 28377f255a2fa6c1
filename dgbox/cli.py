"""The `dgbox` command.

`dgbox <command> ...` runs a Django management command with the project's settings, so
`dgbox tenant create ...`, `dgbox migrate`, `dgbox demo` and `dgbox runserver` all work.
Errors a user can act on are printed as one line, with a non-zero exit and no traceback.
"""

import os
import sys


def main(argv=None):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dgbox.settings.dev")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "dgbox"
    if len(argv) == 1:
        argv.append("help")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
