"""`python -m infra.localservices run|start|stop` (see the package's docstring)."""

import argparse
import os
import sys

from . import LocalServiceError, ensure_database, ensure_postgres, ensure_redis, ensure_s3, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.localservices")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="Ensure the servers, then run a command with their URLs.")
    start = sub.add_parser("start", help="Ensure the servers and print their URLs (the `dgbox` "
                                         "command then finds them by itself).")
    for each in (run, start):
        each.add_argument("--redis", choices=["optional", "required"], default="optional")
        each.add_argument("--database", default="dgbox")
    run.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("stop", help="Stop the embedded servers started by `run` or `start`.")
    args = parser.parse_args(argv)
    command: list[str] = []
    if args.action == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("give a command to run after --")
    try:
        if args.action == "stop":
            stop()
            return 0
        env = dict(os.environ)
        env["DATABASE_URL"] = ensure_postgres(args.database)
        env["REDIS_URL"] = ensure_redis(args.redis == "required")
        s3 = ensure_s3()
        env["DGBOX_S3_ENDPOINT_URL"], env["DGBOX_S3_ACCESS_KEY"], env["DGBOX_S3_SECRET_KEY"] = s3
        ensure_database(env["DATABASE_URL"])
    except LocalServiceError as err:
        print(f"dgbox: {err}", file=sys.stderr)
        return 1
    if args.action == "start":
        for name in ("DATABASE_URL", "REDIS_URL", "DGBOX_S3_ENDPOINT_URL"):
            print(f"{name}={env[name]}")
        return 0
    os.execvpe(command[0], command, env)  # noqa: S606 - replaces this process on purpose


if __name__ == "__main__":
    sys.exit(main())
