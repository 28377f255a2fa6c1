"""Fixtures of the deployment tests (Helm chart and Ansible roles).

Nothing here touches the database: the chart and role tests never request pytest-django's
`db` fixture. The image test (test_image.py) does, through tests/conftest.py's session tenants.
"""

import os
import sys
from pathlib import Path

import pytest

from ._support import ANSIBLE


@pytest.fixture(scope="session")
def ansible_env(tmp_path_factory) -> dict[str, str]:
    """Environment for ansible-* commands: private ANSIBLE_HOME and temp dirs, no network."""
    home = tmp_path_factory.mktemp("ansible-home")
    env = dict(os.environ)
    env.update(
        ANSIBLE_HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(home / "remote-tmp"),
        ANSIBLE_CONFIG=str(ANSIBLE / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ANSIBLE / "roles"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_PIPELINING="1",
        XDG_CACHE_HOME=str(home / "cache"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env
