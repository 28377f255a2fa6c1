"""The fresh-machine path of `make demo` / `make test`: embedded PostgreSQL and Redis from pip
packages, started on loopback when no server answers (forced here with DGBOX_FORCE_EMBEDDED)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import os, psycopg, redis
with psycopg.connect(os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")) as c:
    print(c.execute("SELECT current_database(), current_setting('port')").fetchone())
print(redis.Redis.from_url(os.environ["REDIS_URL"]).ping())
"""


def test_embedded_servers_start_answer_and_stop(tmp_path):
    env = {**os.environ, "DGBOX_STATE_DIR": str(tmp_path), "DGBOX_FORCE_EMBEDDED": "1",
           "DGBOX_EMBEDDED_PG_PORT": "55499", "DGBOX_EMBEDDED_REDIS_PORT": "56399"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "infra.localservices", "run", "--redis", "required",
             "--database", "fresh_machine", "--", sys.executable, "-c", PROBE],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert "('fresh_machine', '55499')" in proc.stdout
        assert "True" in proc.stdout
        assert "starting an embedded one" in proc.stderr
        assert (tmp_path / "postgres" / "PG_VERSION").exists()
    finally:
        subprocess.run([sys.executable, "-m", "infra.localservices", "stop"], cwd=ROOT,
                       env=env, capture_output=True, timeout=120)
    from infra.localservices import answers

    assert not answers("127.0.0.1", 55499)
    assert not answers("127.0.0.1", 56399)
