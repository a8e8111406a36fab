"""`broker serve` started exactly as docs/operations.md says (BROKER_CONFIG, `broker db upgrade`,
`broker serve --workers 2`, nothing else in the environment): the metrics the alerting table
relies on, summed over both workers; one JSON log format; SIGHUP; nothing left behind at stop.

The tests of this module share one served broker and run in order: the last one stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from broker.config import load_config
from broker.devtools.demo import stub_hub_config
from broker.devtools.stub_hub.app import create_stub_hub
from tests import hub_messages
from tests.conftest import Ports, write_config
from tests.oidc_client import authorize, post_to_acs, query, redeem
from tests.reliability.conftest import (
    REPO,
    START_DEADLINE,
    MatchingStub,
    ProcessStack,
    _serve,
    free_port,
    wait_until,
)

BROKER = str(Path(sys.executable).parent / "broker")
GUIDE = (REPO / "docs" / "operations.md").read_text()
CONTACT = {"phone": "0300 000 0000"}
SIGN_INS = 6


def alerting_metrics() -> set[str]:
    """Every metric name the guide's table of suggested alerts uses."""
    table = GUIDE.split("Suggested alerts")[1].split("\n\n")[1]
    return set(re.findall(r"\bbroker_[a-z_]+", table))


@dataclass
class Served:
    stack: ProcessStack
    process: subprocess.Popen
    log_path: Path
    temp: Path

    def log_lines(self) -> list[str]:
        return [line for line in self.log_path.read_text().splitlines() if line.strip()]

    def log_entries(self) -> list[dict]:
        return [json.loads(line) for line in self.log_lines()]

    def metrics_folders(self) -> list[Path]:
        return list(self.temp.glob("broker-metrics-*"))

    def samples(self, name: str) -> dict[str, float]:
        text = requests.get(f"{self.stack.broker_url}/metrics", timeout=10).text
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith(f"{name}{{") or line.startswith(f"{name} ")}


@pytest.fixture(scope="module")
def served(tmp_path_factory, keys_dir, redis_url) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("served")
    matching = MatchingStub(free_port())
    matching.server = _serve(matching, matching.port)
    ports = Ports(free_port(), free_port(), free_port())
    prefix = f"served-{uuid.uuid4().hex[:12]}:"
    path = write_config(directory, keys_dir, ports, redis_url, prefix, **{
        "database": {"url": f"sqlite:///{directory / 'links.sqlite3'}"},
        "councils.test-borough.matching": {"service_url": matching.url, "contact": CONTACT},
    })
    config = load_config(path, environ={})
    hub = stub_hub_config(config, keys_dir, ports.url("hub"))
    hub_server = _serve(create_stub_hub(hub), ports.hub)
    # The guide's environment: the configuration file, nothing else of the broker's. TMPDIR only
    # lets the test see the folder the broker makes for its metrics.
    temp = directory / "tmp"
    temp.mkdir()
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("BROKER_") and key != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(BROKER_CONFIG=str(path), TMPDIR=str(temp))
    upgrade = subprocess.run([BROKER, "db", "upgrade"], env=environ, capture_output=True,
                             text=True, timeout=60)
    assert upgrade.returncode == 0, upgrade.stderr
    log_path = directory / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([BROKER, "serve", "--port", str(ports.broker), "--workers", "2"],
                                   env=environ, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    stack = ProcessStack(config, hub, ports.url("broker"), ports.url("council"), prefix, path)
    served = Served(stack, process, log_path, temp)
    try:
        wait_until(lambda: process.poll() is None and requests.get(
            f"{stack.broker_url}/healthz", timeout=2).status_code == 200,
            START_DEADLINE, f"broker serve to start:\n{log_path}")
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        hub_server.shutdown()
        matching.server.shutdown()


def sign_in_with_a_new_connection(stack: ProcessStack) -> None:
    browser = requests.Session()
    browser.headers["Connection"] = "close"  # each request may reach either worker
    attempt = authorize(stack, session=browser)
    answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id,
                                                     pid=f"pid-{uuid.uuid4().hex}"),
                         attempt.relay_state, session=browser)
    assert answer.status_code == 302, answer.text
    tokens = redeem(stack, query(answer.headers["Location"])["code"], attempt.verifier,
                    attempt.redirect_uri)
    assert tokens.status_code == 200, tokens.text


def test_every_metric_the_alerts_use_is_served_summed_over_both_workers(served):
    stack = served.stack
    for _ in range(SIGN_INS):
        sign_in_with_a_new_connection(stack)
    attempt = authorize(stack)
    post_to_acs(stack, hub_messages.failure(stack, attempt.authn_request_id, "cancel"),
                attempt.relay_state)
    [folder] = served.metrics_folders()
    writers = {re.sub(r"^\w+?_(\d+)\.db$", r"\1", file.name) for file in folder.glob("*.db")}
    assert len(writers) >= 2, "both workers answered and wrote their metrics"

    for name in alerting_metrics():
        assert served.samples(name), f"{name} is not in /metrics"
    completed = served.samples("broker_signins_completed_total")
    assert sum(completed.values()) == SIGN_INS
    started = served.samples("broker_signins_started_total")
    assert sum(started.values()) == SIGN_INS + 1
    assert served.samples("broker_signins_failed_total") == {
        'broker_signins_failed_total{council="test-borough",reason="cancelled"}': 1.0}
    outcomes = served.samples("broker_matching_outcomes_total")
    assert outcomes['broker_matching_outcomes_total{council="test-borough",cycle="1",'
                    'outcome="match"}'] == SIGN_INS
    assert served.samples("broker_hub_metadata_usable") == {"broker_hub_metadata_usable": 1.0}


def test_sighup_with_a_changed_file_restarts_the_workers_with_it(served):
    stack = served.stack
    raw = yaml.safe_load(stack.config_path.read_text())
    raw["clients"].append({**raw["clients"][0], "client_id": "added-on-reload"})
    stack.config_path.write_text(yaml.safe_dump(raw))
    assert authorize(stack, client_id="added-on-reload").response.status_code == 400
    served.process.send_signal(signal.SIGHUP)
    wait_until(lambda: authorize(stack, client_id="added-on-reload").relay_state,
               START_DEADLINE, "the new client to be known after SIGHUP")
    assert any(entry.get("event") == "config.reloaded" for entry in served.log_entries())


def test_sighup_with_a_bad_file_is_refused_and_the_broker_keeps_serving(served):
    stack = served.stack
    good = stack.config_path.read_text()
    raw = yaml.safe_load(good)
    raw["redis"]["key_prefx"] = "other-broker:"
    stack.config_path.write_text(yaml.safe_dump(raw))
    try:
        served.process.send_signal(signal.SIGHUP)
        refused = wait_until(lambda: [entry for entry in served.log_entries()
                                      if entry.get("event") == "config.reload-refused"],
                             START_DEADLINE, "the reload to be refused")
        assert "redis.key_prefx: unknown key (did you mean key_prefix?)" in refused[0]["message"]
        time.sleep(1)  # the workers gunicorn restarts after a refused reload
        wait_until(lambda: requests.get(f"{stack.broker_url}/healthz", timeout=2).ok,
                   START_DEADLINE, "the broker to answer")
        sign_in_with_a_new_connection(stack)
        assert authorize(stack, client_id="added-on-reload").relay_state, \
            "the configuration in use is the last good one"
    finally:
        stack.config_path.write_text(good)


def test_at_stop_every_line_written_was_json_and_no_metrics_folder_is_left(served):
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    lines = served.log_lines()
    for line in lines:
        assert line.startswith("{"), line
        json.loads(line)
    messages = [entry["message"] for entry in served.log_entries()]
    assert any(message.startswith("Booting worker") for message in messages), \
        "gunicorn's own lines are among them"
    assert any(message.startswith("Handling signal: term") for message in messages)
    assert served.metrics_folders() == []


def test_a_worker_that_cannot_start_is_reported_in_json_and_stops_the_master(tmp_path, keys_dir):
    port = free_port()
    path = write_config(tmp_path, keys_dir, Ports(port, free_port(), free_port()),
                        "redis://127.0.0.1:1/0", "unreachable:")
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("BROKER_") and key != "PROMETHEUS_MULTIPROC_DIR"}
    environ.update(BROKER_CONFIG=str(path), TMPDIR=str(tmp_path))
    result = subprocess.run([BROKER, "serve", "--port", str(port), "--workers", "1"], env=environ,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 3  # gunicorn's "worker failed to boot"
    entries = [json.loads(line) for line in (result.stdout + result.stderr).splitlines()]
    assert any(entry.get("event") == "worker.boot-failed" for entry in entries)
    assert list(tmp_path.glob("broker-metrics-*")) == []
