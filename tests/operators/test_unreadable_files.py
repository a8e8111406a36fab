"""A key or truststore the broker's user cannot read: the likely state mid-rotation, since
`broker keys generate` writes 0600 files as whoever runs it.

At start (check-config or serve) it is one line naming the file and the problem, exit 2; on
SIGHUP the running broker keeps its configuration and logs one JSON line. The broker runs as a
process that really cannot read the file: the tests run as root, so the file belongs to another
user and the broker runs without the capabilities that let root read any file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import free_port
from tests.operators.conftest import ROOT

BROKER = str(Path(sys.executable).parent / "broker")
OTHER_USER = 12345  # owns the file the broker may not read


def as_the_brokers_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]


def make_unreadable(path: Path) -> None:
    if os.geteuid() == 0:
        os.chown(path, OTHER_USER, OTHER_USER)
    path.chmod(0o600)


def broker_environ(path: Path, temp: Path) -> dict[str, str]:
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("BROKER_") and key != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(BROKER_CONFIG=str(path), TMPDIR=str(temp))
    return environ


def test_check_config_names_an_unreadable_key_in_one_line(operator_config, keys):
    path = operator_config()
    make_unreadable(keys / "broker-saml-signing.key")
    result = subprocess.run(as_the_brokers_user([sys.executable, "-m", "broker.cli",
                                                 "check-config", "--offline", str(path)]),
                            capture_output=True, text=True, timeout=60, cwd=ROOT,
                            env=broker_environ(path, path.parent))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{path}: saml.signing.key: cannot read ")
    assert str(keys / "broker-saml-signing.key") in line
    assert "permission denied" in line


def test_serve_refuses_an_unreadable_truststore_in_one_json_line_with_exit_2(operator_config, keys,
                                                                            tmp_path):
    path = operator_config()
    make_unreadable(keys / "hub-truststore.pem")
    result = subprocess.run(as_the_brokers_user([BROKER, "serve", "--port", str(free_port()),
                                                 "--workers", "1"]),
                            capture_output=True, text=True, timeout=60,
                            env=broker_environ(path, tmp_path))
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).splitlines()
    [entry] = [json.loads(line) for line in lines]
    assert entry["event"] == "config.refused"
    assert "hub.truststores.hub: cannot read" in entry["message"]
    assert "permission denied" in entry["message"]
    assert "exception" not in entry
