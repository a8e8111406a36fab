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
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import Ports, free_port
from tests.operators.conftest import ROOT
from tests.reliability.conftest import START_DEADLINE, wait_until

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


def test_sighup_with_an_unreadable_key_keeps_the_master_and_the_old_configuration(
        operator_config, keys, tmp_path):
    port = free_port()
    path = operator_config(issuer=Ports(port, 0, 0).url("broker"))
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(as_the_brokers_user([BROKER, "serve", "--port", str(port),
                                                        "--workers", "1"]),
                                   env=broker_environ(path, tmp_path), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    healthz = f"http://127.0.0.1:{port}/healthz"
    entries = lambda: [json.loads(line) for line in log_path.read_text().splitlines()]  # noqa: E731
    try:
        wait_until(lambda: process.poll() is None and requests.get(healthz, timeout=2).ok,
                   START_DEADLINE, f"broker serve to start:\n{log_path}")
        make_unreadable(keys / "broker-saml-encryption.key")  # mid-rotation
        process.send_signal(signal.SIGHUP)
        refused = wait_until(lambda: [e for e in entries()
                                      if e.get("event") == "config.reload-refused"],
                             START_DEADLINE, "the reload to be refused")
        time.sleep(2)  # the workers gunicorn starts again after the reload
        assert process.poll() is None, log_path.read_text()
        wait_until(lambda: requests.get(healthz, timeout=2).ok, START_DEADLINE,
                   "the broker to answer after the refused reload")
        [line] = refused
        assert "saml.encryption[0].key: cannot read" in line["message"]
        assert "keep the configuration" in line["message"]
        assert not any("Unhandled exception" in e["message"] or "exception" in e
                       for e in entries()), log_path.read_text()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)
