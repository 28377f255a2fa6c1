"""Start-up of `dgbox` commands: this tree against another (e.g. the previous commit), each
command a whole process, as an operator waits for it.

    python bench/cli_startup.py --before DIR [--rounds 10] [--only 'tenant list' ...]

DIR is another dgbox source tree (`git archive <commit> | tar -x -C DIR`), run by the same
interpreter and packages (PYTHONPATH), so the only difference is the code. Every round runs
each command once from each tree, the trees' order alternating from round to round; a line
per run gives wall time, CPU time (user + system of the process and what it waited for) and
the 1-minute load average. The commands: `dgbox --help`, `dgbox tenant list` (a page of 50
since it pages; `tenant list --all` prints every tenant, and runs as plain `tenant list` in a
tree whose `tenant list` has no `--all`, which printed them all), `dgbox rollout plan`, a no-op
`dgbox rollout run` (nothing to migrate: it still takes the lock, checks every schema's state
and writes its report), `dgbox template status`, `dgbox rollout history`. They
read the database of DATABASE_URL (default: the rollout benchmark's, which bench/rollout.py
builds; any database migrated by `dgbox migrate` with a tenant or two will do). Figures go to
bench/results/cli_startup.json. A measurement, never a test: on a shared machine compare CPU
times, which the load inflates far less than wall times.

Run it under `python -m infra.localservices run -- ...` (or with DGBOX_S3_* set) so that both
trees start with the S3 storage configured, as in production: the `dgbox` command finds the
embedded SeaweedFS of its own tree's state folder only, which the other tree does not have.

Both trees' sources are byte-compiled first (`compileall`, into their `__pycache__` folders), as
`pip install` does in the image: with PYTHONDONTWRITEBYTECODE=1 in the environment (as on the
shared development machine) every run would otherwise compile the ~250 dgbox modules it
imports again, about a tenth of a second of CPU that no production process pays.
"""

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dgbox", "tenants", "cms", "services", "infra", "demo")
COMMANDS = (("--help",), ("tenant", "list"), ("tenant", "list", "--all"), ("rollout", "plan"),
            ("rollout", "run"), ("template", "status"), ("rollout", "history", "--limit", "1"))


def argv_in(tree: Path, argv: tuple[str, ...]) -> tuple[str, ...]:
    """`argv` as `tree` takes it: without `--all` where its `tenant list` does not page."""
    command = tree / "tenants" / "management" / "commands" / "tenant.py"
    if argv[:2] == ("tenant", "list") and '"--all"' not in command.read_text():
        return tuple(a for a in argv if a != "--all")
    return argv


def run(tree: Path, argv: tuple[str, ...]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "DGBOX_LOG_LEVEL": "ERROR",
           "DJANGO_SETTINGS_MODULE": "dgbox.settings.dev", "DGBOX_DEBUG": "0"}
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/dgbox_bench_rollout")
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("dgbox")), *argv], env=env,
                          cwd=tree, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"dgbox {' '.join(argv)} in {tree} failed:\n{proc.stderr[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"wall": round(wall, 3), "cpu": round(cpu, 3), "load": round(load, 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", action="append", metavar="WORDS",
                        help="only the commands that start with WORDS, e.g. 'tenant list' "
                             "(repeatable; default: every command)")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": ROOT}
    commands = [c for c in COMMANDS
                if not args.only or any(" ".join(c).startswith(w) for w in args.only)]
    runs: dict = {" ".join(c): {t: [] for t in trees} for c in commands}
    if not os.environ.get("DGBOX_S3_ENDPOINT_URL"):
        print("note: no DGBOX_S3_ENDPOINT_URL: the trees may not start with the same storage "
              "(see the docstring)")
    for tree in trees.values():
        for package in PACKAGES:
            if (tree / package).is_dir():
                compileall.compile_dir(tree / package, quiet=1)
    print(f"load average {os.getloadavg()[0]:.2f} at the start (shared machine)")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for round_no in range(args.rounds):
        order = list(trees) if round_no % 2 == 0 else list(reversed(trees))
        for command in commands:
            for name in order:
                measured = run(trees[name], argv_in(trees[name], command))
                runs[" ".join(command)][name].append(measured)
                print(f"round {round_no + 1}  dgbox {' '.join(command):28} {name:6} "
                      f"{measured['wall']:6.2f} s wall {measured['cpu']:6.2f} s CPU "
                      f"load {measured['load']:.2f}")
    summary = {command: {name: {"wall": statistics.median(r["wall"] for r in rs),
                                "cpu": statistics.median(r["cpu"] for r in rs),
                                "load": [min(r["load"] for r in rs), max(r["load"] for r in rs)]}
                         for name, rs in by_tree.items()}
               for command, by_tree in runs.items()}
    for command, by_tree in summary.items():
        print(f"dgbox {command:28} " + "  ".join(
            f"{name}: {m['wall']:.2f} s wall, {m['cpu']:.2f} s CPU" for name, m in by_tree.items()))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    out = ROOT / "bench" / "results" / "cli_startup.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"date": started,
                               "ended": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "rounds": args.rounds, "runs": runs, "summary": summary},
                              indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
