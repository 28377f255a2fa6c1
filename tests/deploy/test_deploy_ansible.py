"""The Ansible side of deployment: syntax, lint, a check-mode run and a real converge.

The converge installs a fake `dgbox` wheel (fake_dgbox_app.py) with the dgbox_app role into
a temporary prefix on this machine, runs its processes under a supervisord started by the
test (these machines have no systemd), and proves the role idempotent: the second run
changes nothing. Real hosts, apt, systemd, PostgreSQL and Redis roles are not exercised.
"""

import configparser
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from ._support import ANSIBLE, build_fake_wheel, run, tool

PLAYBOOKS = ["site.yml", "deploy.yml", "backup.yml", "tenant.yml"]
INVENTORIES = ["example-single", "example-multi"]
SYSTEM_PYTHON = Path("/usr/bin/python3")
RECAP = re.compile(
    r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M
)


def recap(stdout: str) -> dict[str, int]:
    match = RECAP.search(stdout)
    assert match, stdout[-3000:]
    ok, changed, unreachable, failed = map(int, match.groups())
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


def changed_tasks(stdout: str) -> set[str]:
    """Names of the tasks that reported a change, from the default callback's output."""
    changed, task = set(), None
    for line in stdout.splitlines():
        header = re.match(r"^TASK \[(?:[\w.]+ : )?(.+?)\] \**$", line)
        if header:
            task = header.group(1)
        elif line.startswith("changed: [") and task:
            changed.add(task)
    return changed


def ansible_playbook() -> str:
    path = tool("ansible-playbook")
    assert path, "ansible-playbook is not installed (pip install ansible-core)"
    return path


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_playbook_syntax(inventory, ansible_env):
    """Every playbook parses against both example inventories (one call checks them all)."""
    assert sorted(p.name for p in ANSIBLE.glob("*.yml")) == sorted(
        [*PLAYBOOKS, "inventory-checks.yml"]
    )
    proc = run(
        [ansible_playbook(), "-i", f"inventories/{inventory}", *PLAYBOOKS, "--syntax-check"],
        ansible_env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for playbook in PLAYBOOKS:
        assert f"playbook: {playbook}" in proc.stdout, proc.stdout


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_inventory_groups(inventory, ansible_env):
    """Every inventory has the groups the playbooks use, one beat host and one database."""
    proc = run([tool("ansible-inventory"), "-i", f"inventories/{inventory}", "--list"], ansible_env)
    assert proc.returncode == 0, proc.stderr
    groups = json.loads(proc.stdout)
    hosts = {
        name: groups.get(name, {}).get("hosts", [])
        for name in ("dgbox_web", "dgbox_worker", "dgbox_beat", "dgbox_db", "dgbox_redis")
    }
    assert all(hosts.values()), hosts
    assert len(hosts["dgbox_beat"]) == 1
    assert len(hosts["dgbox_db"]) == 1
    if inventory == "example-multi":
        assert len(hosts["dgbox_web"]) >= 2
        assert len(hosts["dgbox_worker"]) >= 2


def test_ansible_lint(ansible_env):
    lint = tool("ansible-lint")
    if lint is None:
        pytest.skip("ansible-lint is not installed (pip install ansible-lint)")
    proc = run([lint, "--offline", "--nocolor", "-c", ".ansible-lint"], ansible_env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_role_defaults_are_prefixed_and_documented():
    """Every role variable starts with the role name and sits under a comment explaining it."""
    for defaults in sorted(ANSIBLE.glob("roles/*/defaults/main.yml")):
        role = defaults.parent.parent.name
        names = list(yaml.safe_load(defaults.read_text()))
        assert names, defaults
        assert all(name.startswith(f"{role}_") for name in names), (role, names)
        lines = defaults.read_text().splitlines()
        for index, line in enumerate(lines):
            if not re.match(r"^[a-z_]+:", line):
                continue
            # Walk up over the variables of the same block to its comment.
            above = index - 1
            while above >= 0 and lines[above].strip() and not lines[above].startswith("#"):
                above -= 1
            assert above >= 0 and lines[above].startswith("#"), f"{role}: document {line}"


def test_tasks_use_fully_qualified_modules():
    builtin_keys = {
        "name",
        "when",
        "loop",
        "loop_control",
        "register",
        "become",
        "become_user",
        "notify",
        "changed_when",
        "failed_when",
        "until",
        "retries",
        "delay",
        "tags",
        "run_once",
        "no_log",
        "vars",
        "listen",
        "block",
        "delegate_to",
        "check_mode",
        "ignore_errors",
        "environment",
        "args",
    }
    files = [*ANSIBLE.glob("roles/*/tasks/*.yml"), *ANSIBLE.glob("roles/*/handlers/*.yml")]
    for path in files:
        for task in yaml.safe_load(path.read_text()) or []:
            modules = set(task) - builtin_keys
            assert len(modules) == 1, (path, task.get("name"), modules)
            (module,) = modules
            assert module.startswith("ansible.builtin."), (path, module)


# --- Running the dgbox_app role against this machine ----------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prefix:
    """A world-traversable temp tree standing in for /opt, /etc and /var of a host."""

    def __init__(self, root: Path, wheel: Path, port: int):
        self.root = root
        self.port = port
        self.supervisor_conf = root / "supervisor" / "supervisord.conf"
        self.inventory = root / "inventory.yml"
        self.playbook = root / "converge.yml"
        self.vars = {
            "dgbox_app_user": "nobody",
            "dgbox_app_group": "nogroup",
            "dgbox_app_user_create": False,
            "dgbox_app_home": str(root / "opt" / "dgbox"),
            "dgbox_app_config_dir": str(root / "etc" / "dgbox"),
            "dgbox_app_state_dir": str(root / "var" / "lib" / "dgbox"),
            "dgbox_app_log_dir": str(root / "var" / "log" / "dgbox"),
            "dgbox_app_cli_path": str(root / "usr" / "local" / "bin" / "dgbox"),
            "dgbox_app_python": str(SYSTEM_PYTHON),
            "dgbox_app_install_system_packages": False,
            "dgbox_app_source": str(wheel),
            "dgbox_app_release": "r1",
            "dgbox_app_pip_extra_args": "--no-index --disable-pip-version-check",
            "dgbox_app_secret_key": "k" * 64,
            "dgbox_app_database_url": "postgres://dgbox:p%40ss@127.0.0.1:5432/dgbox",
            "dgbox_app_redis_url": "redis://127.0.0.1:6379/0",
            "dgbox_app_base_domain": "gov.example",
            "dgbox_app_trusted_proxies": 1,
            "dgbox_app_allowed_hosts": ["gov.example", ".gov.example"],
            "dgbox_app_extra_env": {"DGBOX_LOG_LEVEL": "WARNING", "QUOTED": "it's $HOME"},
            "dgbox_app_process_manager": "supervisor",
            "dgbox_app_supervisor_install": False,
            "dgbox_app_supervisor_service_manage": False,
            "dgbox_app_supervisor_conf_dir": str(root / "supervisor" / "conf.d"),
            "dgbox_app_supervisorctl_command": [
                str(Path(tool("supervisorctl") or "supervisorctl")),
                "-c",
                str(self.supervisor_conf),
            ],
            "dgbox_app_web_bind": f"127.0.0.1:{port}",
            "dgbox_app_web_workers": 3,
            "dgbox_app_healthcheck_delay": 1,
        }

    def write(self, roles_tasks_from: str | None = None) -> None:
        # Tasks with `become_user` (collectstatic, migrate) really switch to `nobody`, so
        # modules run with an interpreter `nobody` can read.
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": str(SYSTEM_PYTHON),
            "ansible_become_method": "su",
            "ansible_become_flags": "-s /bin/sh",
        }
        groups = {
            group: {"hosts": {"localhost": host}}
            for group in ("dgbox_web", "dgbox_worker", "dgbox_beat")
        }
        self.inventory.write_text(yaml.safe_dump({"all": {"children": groups}}))
        role = {"role": "dgbox_app"}
        play = {
            "name": "Converge dgbox_app",
            "hosts": "dgbox_web",
            "gather_facts": False,
            "vars": self.vars,
            "roles": [role],
        }
        if roles_tasks_from:
            play.pop("roles")
            play["tasks"] = [
                {
                    "name": "Include dgbox_app",
                    "ansible.builtin.include_role": {
                        "name": "dgbox_app",
                        "tasks_from": roles_tasks_from,
                        "public": True,
                    },
                }
            ]
        self.playbook.write_text(yaml.safe_dump([play], sort_keys=False))

    def files(self) -> set[str]:
        skip = {self.inventory, self.playbook}
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*") if p not in skip}

    def playbook_run(self, env, *extra: str):
        return run(
            [tool("ansible-playbook"), "-i", str(self.inventory), str(self.playbook), *extra],
            env,
            timeout=180,
        )


@pytest.fixture
def prefix():
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"{SYSTEM_PYTHON} is needed to build the release virtualenv")
    # Not under pytest's 0700 tmp: the processes run as `nobody` and must reach their files.
    root = Path(tempfile.mkdtemp(prefix="dgbox-converge-"))
    root.chmod(0o755)
    wheels = root / "wheels"
    wheels.mkdir()
    wheels.chmod(0o755)
    (root / "usr" / "local" / "bin").mkdir(parents=True)  # exists on every host
    try:
        yield Prefix(root, build_fake_wheel(wheels), free_port())
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def supervisord(prefix):
    """A supervisord owned by this test (stopped by its pid), including the role's programs."""
    conf_dir = prefix.supervisor_conf.parent
    (conf_dir / "conf.d").mkdir(parents=True)
    prefix.supervisor_conf.write_text(
        "[unix_http_server]\nfile=%(here)s/supervisor.sock\nchmod=0700\n\n"
        "[supervisord]\nlogfile=%(here)s/supervisord.log\npidfile=%(here)s/supervisord.pid\n"
        "childlogdir=%(here)s\nuser=root\n\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
        "[supervisorctl]\nserverurl=unix://%(here)s/supervisor.sock\n\n"
        "[include]\nfiles = conf.d/*.conf\n"
    )
    binary = tool("supervisord")
    if binary is None:
        pytest.skip("supervisor is not installed (pip install supervisor)")
    process = subprocess.Popen(
        [binary, "-n", "-c", str(prefix.supervisor_conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    socket_path = conf_dir / "supervisor.sock"
    for _ in range(100):
        if socket_path.exists():
            break
        time.sleep(0.05)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def calls(prefix: Prefix) -> list[dict]:
    log = Path(prefix.vars["dgbox_app_state_dir"]) / "calls.log"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_dgbox_app_check_mode_changes_nothing(prefix, ansible_env):
    """--check against a fresh host predicts changes and leaves the disk untouched."""
    prefix.write()
    before = prefix.files()
    proc = prefix.playbook_run(ansible_env, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    result = recap(proc.stdout)
    assert result["failed"] == 0
    assert result["changed"] >= 5
    assert prefix.files() == before
    would_change = changed_tasks(proc.stdout)
    assert {
        "Write the environment file",
        "Install dgbox into the release virtualenv",
        "Write the supervisor programs of this host's components",
    } <= would_change
    # The diff shows the environment file the role would write.
    assert "DGBOX_BASE_DOMAIN=gov.example" in proc.stdout


ROLLOUT_OPTIONS = {
    "dgbox_app_rollout_max_failures": "5%",
    "dgbox_app_rollout_wave_size": 20,
    "dgbox_app_rollout_workers": 2,
    "dgbox_app_rollout_canary": ["ryabinovka", "zarechensk"],
}
ROLLOUT_ARGV = [
    "rollout",
    "run",
    "--json",
    "--max-failures",
    "5%",
    "--wave-size",
    "20",
    "--workers",
    "2",
    "--canary",
    "ryabinovka,zarechensk",
]
HALT_REASON = (
    "Ring canary halted: 1 failed (at most 0 allowed): ryabinovka "
    "(services.0002_case_index: column case.opened_at does not exist)"
)


def migrations_run(log: list[dict]) -> list[list[str]]:
    """argv of every `dgbox migrate` and `dgbox rollout`, in order."""
    return [
        c["argv"]
        for c in log
        if c["command"] == "dgbox" and c["argv"][:1] in (["migrate"], ["rollout"])
    ]


def test_dgbox_app_converges_and_is_idempotent(prefix, supervisord, ansible_env):
    prefix.vars.update(ROLLOUT_OPTIONS)
    prefix.write()
    first = prefix.playbook_run(ansible_env)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr
    assert recap(first.stdout)["changed"] > 0
    # The shared schemas, then the tenants in a rollout with the configured options, once.
    assert migrations_run(calls(prefix)) == [["migrate", "--shared"], ROLLOUT_ARGV]
    assert {
        "Migrate the public and template schemas",
        "Upgrade the tenants with a staged rollout",
    } <= changed_tasks(first.stdout)

    state = Path(prefix.vars["dgbox_app_state_dir"])
    release = Path(prefix.vars["dgbox_app_home"]) / "releases" / "r1"
    env_file = Path(prefix.vars["dgbox_app_config_dir"]) / "dgbox.env"

    # The environment file: every contract variable, shell-quoted, not world-readable.
    assert oct(env_file.stat().st_mode & 0o777) == "0o640"
    sourced = subprocess.run(
        ["sh", "-c", f"set -a; . {shlex.quote(str(env_file))}; env"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout.splitlines()
    environment = dict(line.split("=", 1) for line in sourced if "=" in line)
    assert environment["DJANGO_SETTINGS_MODULE"] == "dgbox.settings.production"
    assert environment["DATABASE_URL"] == "postgres://dgbox:p%40ss@127.0.0.1:5432/dgbox"
    assert environment["DGBOX_ALLOWED_HOSTS"] == "gov.example,.gov.example"
    assert environment["DGBOX_STATE_DIR"] == str(state)
    assert environment["QUOTED"] == "it's $HOME"
    assert environment["DGBOX_TRUSTED_PROXIES"] == "1"
    assert environment["DGBOX_PUBLIC_MEDIA"] == "s3"  # web hosts keep no page images on disk
    assert environment["DGBOX_LOG_FORMAT"] == "json"
    assert "DGBOX_SENTRY_DSN" not in environment  # empty: not started
    for name in (
        "DGBOX_SECRET_KEY",
        "REDIS_URL",
        "DGBOX_BASE_DOMAIN",
        "DGBOX_DB_POOLER",
        "DGBOX_S3_ENDPOINT_URL",
        "DGBOX_S3_BUCKET",
        "DGBOX_S3_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "EMAIL_URL",
    ):
        assert name in environment, name

    # The release: its own venv, `current` points at it, static files collected.
    assert (release / "venv" / "bin" / "dgbox").exists()
    assert (Path(prefix.vars["dgbox_app_home"]) / "current").resolve() == release
    assert (state / "static" / "staticfiles.json").exists()

    # What ran: migrate and rollout once each (above), collectstatic once, the three
    # processes as `nobody`, with the production settings and the secret key from the
    # environment file.
    log = calls(prefix)
    commands = [(c["command"], c["argv"][:1]) for c in log]
    assert commands.count(("dgbox", ["collectstatic"])) == 1
    gunicorn = [c for c in log if c["command"] == "gunicorn"]
    assert gunicorn, log
    assert gunicorn[-1]["argv"][:6] == [
        "dgbox.wsgi:application",
        "--bind",
        f"127.0.0.1:{prefix.port}",
        "--workers",
        "3",
        "--timeout",
    ]
    celery = [c["argv"] for c in log if c["command"] == "celery"]
    assert any(argv[:4] == ["-A", "dgbox", "worker", "-l"] for argv in celery), celery
    beat = [argv for argv in celery if argv[2] == "beat"]
    assert beat and beat[-1][-2:] == ["--schedule", f"{state}/celerybeat-schedule"]
    nobody = int(
        subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True, check=True).stdout
    )
    for call in log:
        assert call["settings"] == "dgbox.settings.production"
        assert call["secret_key_length"] == 64
        assert call["cwd"] == str(state)
        if call["command"] in ("gunicorn", "celery"):
            assert call["uid"] == nobody, call

    # The web process answers its probes; supervisor runs the three programs.
    with urllib.request.urlopen(f"http://127.0.0.1:{prefix.port}/readyz", timeout=5) as resp:
        assert resp.status == 200
    ctl = prefix.vars["dgbox_app_supervisorctl_command"]
    status = subprocess.run([*ctl, "status"], capture_output=True, text=True, check=False)
    for program in ("dgbox-web", "dgbox-worker", "dgbox-beat"):
        assert re.search(rf"^{program}\s+RUNNING", status.stdout, re.M), status.stdout

    # The operator command runs `dgbox` of the current release with the environment.
    cli = subprocess.run(
        [prefix.vars["dgbox_app_cli_path"], "migrate"], capture_output=True, text=True, check=False
    )
    assert cli.returncode == 0, cli.stderr
    assert "No migrations to apply." in cli.stdout

    # Second run: nothing to do; the rollout ran again and reported "nothing_to_do".
    second = prefix.playbook_run(ansible_env)
    assert second.returncode == 0, second.stdout[-6000:] + second.stderr
    assert recap(second.stdout)["changed"] == 0, second.stdout[-6000:]
    # First run, the operator command, the second run.
    assert migrations_run(calls(prefix)) == [
        ["migrate", "--shared"],
        ROLLOUT_ARGV,
        ["migrate"],
        ["migrate", "--shared"],
        ROLLOUT_ARGV,
    ]

    # A changed environment file changes every program definition (supervisor `update` then
    # restarts them): the definitions carry the file's fingerprint.
    fingerprint = hashlib.sha256(env_file.read_bytes()).hexdigest()
    conf_dir = Path(prefix.vars["dgbox_app_supervisor_conf_dir"])
    for component in ("web", "worker", "beat"):
        program = (conf_dir / f"dgbox-{component}.conf").read_text()
        assert f'environment=DGBOX_ENV_FINGERPRINT="{fingerprint}"' in program
        # web and worker keep their processes' metrics in a directory each
        metrics_dir = f'PROMETHEUS_MULTIPROC_DIR="{state}/metrics/{component}"'
        assert (metrics_dir in program) == (component != "beat"), program

    # A rollout that halts fails the play with its message, before any process is touched.
    halt = state / "fake-halt"
    halt.write_text(HALT_REASON + "\n")
    halt.chmod(0o644)
    programs = {p.name: p.stat().st_mtime_ns for p in conf_dir.iterdir()}
    halted = prefix.playbook_run(ansible_env)
    assert halted.returncode != 0, halted.stdout[-6000:]
    assert recap(halted.stdout)["failed"] == 1, halted.stdout[-6000:]
    failure = halted.stdout[halted.stdout.index("FAILED!") :]
    assert "TASK [dgbox_app : Stop the deployment when the rollout did not upgrade" in (
        halted.stdout
    )
    assert f"CommandError: Rollout halted: {HALT_REASON}" in failure, failure
    assert "run the play again: the rollout resumes" in failure
    assert "Write the supervisor programs" not in halted.stdout
    assert {p.name: p.stat().st_mtime_ns for p in conf_dir.iterdir()} == programs
    assert migrations_run(calls(prefix))[-2:] == [["migrate", "--shared"], ROLLOUT_ARGV]

    # mode `migrate`: the single `dgbox migrate` over every schema, and no rollout.
    halt.unlink()
    before = len(migrations_run(calls(prefix)))
    stock = prefix.playbook_run(ansible_env, "-e", "dgbox_app_migrate_mode=migrate")
    assert stock.returncode == 0, stock.stdout[-6000:] + stock.stderr
    assert recap(stock.stdout)["changed"] == 0, stock.stdout[-6000:]
    assert migrations_run(calls(prefix))[before:] == [["migrate"]]


@pytest.mark.parametrize(
    "options, expected",
    [
        ({}, ["--max-failures", "0", "--wave-size", "50", "--workers", "0"]),
        (
            {
                "dgbox_app_rollout_canary": " pilot-city , severnaya,",
                "dgbox_app_rollout_workers": 3,
            },
            ["--max-failures", "0", "--wave-size", "50", "--workers", "3"]
            + ["--canary", "pilot-city,severnaya"],
        ),
        ({"dgbox_app_rollout_max_failures": "lots"}, "dgbox_app_rollout_max_failures"),
        ({"dgbox_app_migrate_mode": "stock"}, "dgbox_app_migrate_mode must be rollout or migrate"),
    ],
)
def test_rollout_command_and_its_validation(prefix, ansible_env, options, expected):
    """Defaults pass no --canary; a canary string is cleaned up; bad settings are refused."""
    prefix.vars.update(options)
    prefix.write(roles_tasks_from="validate.yml")
    playbook = yaml.safe_load(prefix.playbook.read_text())
    playbook[0]["tasks"].append(
        {
            "name": "Show the rollout command",
            "ansible.builtin.debug": {"msg": "ROLLOUT={{ dgbox_app_rollout_command | to_json }}"},
        }
    )
    prefix.playbook.write_text(yaml.safe_dump(playbook, sort_keys=False))
    proc = prefix.playbook_run(ansible_env)
    if isinstance(expected, str):
        assert proc.returncode != 0, proc.stdout[-4000:]
        assert expected in proc.stdout, proc.stdout[-4000:]
        return
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    shown = re.search(r'"msg": "ROLLOUT=(.*)"$', proc.stdout, re.M).group(1)
    assert json.loads(shown.replace('\\"', '"')) == ["dgbox", "rollout", "run", "--json", *expected]


@pytest.mark.parametrize("pooler, accepted", [("pgbouncer-session", True),
                                              ("pgbouncer-transaction", False)])
def test_db_pooler_validation(prefix, ansible_env, pooler, accepted):
    """Session pooling is accepted; transaction pooling is refused before anything changes
    (it hands one tenant's search_path to another tenant's queries: tests/test_pgbouncer.py)."""
    prefix.vars["dgbox_app_db_pooler"] = pooler
    prefix.write(roles_tasks_from="validate.yml")
    proc = prefix.playbook_run(ansible_env)
    if accepted:
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    else:
        assert proc.returncode != 0, proc.stdout[-4000:]
        assert "dgbox_app_db_pooler" in proc.stdout, proc.stdout[-4000:]


def test_systemd_units_render(prefix, ansible_env):
    """The systemd variant: units run the contract's commands through the release wrapper."""
    unit_dir = prefix.root / "systemd"
    unit_dir.mkdir()
    prefix.vars.update(
        dgbox_app_process_manager="systemd", dgbox_app_systemd_unit_dir=str(unit_dir),
        dgbox_app_metrics_ports={"web": 0, "worker": 9101},
    )
    prefix.write(roles_tasks_from="validate.yml")
    playbook = yaml.safe_load(prefix.playbook.read_text())
    playbook[0]["tasks"].append(
        {
            "name": "Render the units",
            "ansible.builtin.template": {
                "src": str(ANSIBLE / "roles/dgbox_app/templates/dgbox.service.j2"),
                "dest": f"{unit_dir}/dgbox-{{{{ item }}}}.service",
                "mode": "0644",
            },
            "loop": "{{ ['web', 'worker', 'beat'] }}",
        }
    )
    prefix.playbook.write_text(yaml.safe_dump(playbook, sort_keys=False))
    proc = prefix.playbook_run(ansible_env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    run_wrapper = f"{prefix.vars['dgbox_app_home']}/releases/r1/bin/dgbox-run"
    expected = {
        "web": [run_wrapper, "gunicorn", "dgbox.wsgi:application", "--bind"],
        "worker": [run_wrapper, "celery", "-A", "dgbox", "worker", "-l", "info"],
        "beat": [run_wrapper, "celery", "-A", "dgbox", "beat", "-l", "info"],
    }
    for component, start in expected.items():
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(unit_dir / f"dgbox-{component}.service")
        service = unit["Service"]
        assert service["User"] == "nobody"
        assert service["WorkingDirectory"] == prefix.vars["dgbox_app_state_dir"]
        assert shlex.split(service["ExecStart"])[: len(start)] == start
        assert service["NoNewPrivileges"] == "yes"
        assert service["ProtectSystem"] == "strict"
        assert unit["Install"]["WantedBy"] == "multi-user.target"
    worker = configparser.ConfigParser(interpolation=None, strict=False)
    worker.read(unit_dir / "dgbox-worker.service")
    assert worker["Service"]["TimeoutStopSec"] == "120"
    # Metrics (docs/observability.md): a directory per component, the worker's port, the
    # gunicorn hooks that sum the web workers.
    state = prefix.vars["dgbox_app_state_dir"]

    def environment(component):
        text = (unit_dir / f"dgbox-{component}.service").read_text()
        return [line.split("=", 1)[1] for line in text.splitlines()
                if line.startswith("Environment=") and "FINGERPRINT" not in line]

    assert environment("web") == [f"PROMETHEUS_MULTIPROC_DIR={state}/metrics/web"]
    assert environment("worker") == ["DGBOX_METRICS_PORT=9101",
                                     f"PROMETHEUS_MULTIPROC_DIR={state}/metrics/worker"]
    assert environment("beat") == []
    web = configparser.ConfigParser(interpolation=None, strict=False)
    web.read(unit_dir / "dgbox-web.service")
    assert "--config python:dgbox.gunicorn_conf" in web["Service"]["ExecStart"]
