#!/usr/bin/env python
"""Django's command-line utility; `dgbox` is the same with a friendlier name."""

from dgbox.cli import main

if __name__ == "__main__":
    main()
