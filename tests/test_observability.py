"""Health, readiness, metrics, request ids, structured logs, and no personal data in any log."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import pytest
import redis
import requests

from broker.app import create_app
from broker.identity import Address, MatchingDataset, MatchingValue
from broker.observability import JsonFormatter
from tests import hub_messages
from tests.conftest import free_port
from tests.oidc_client import authorize, post_to_acs, redeem, sign_in


def metric(stack, name: str, **labels) -> float:
    text = requests.get(f"{stack.broker_url}/metrics", timeout=10).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name) and (not labels or "{" in line):
            head, value = line.rsplit(" ", 1)
            found = head[len(name):].strip("{}")
            if ",".join(sorted(found.split(","))) == wanted:
                return float(value)
    return 0.0


def test_healthz_answers_while_the_process_lives(stack):
    response = requests.get(f"{stack.broker_url}/healthz", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_every_dependency_when_ready(stack):
    authorize(stack)  # loads the hub metadata
    report = requests.get(f"{stack.broker_url}/readyz", timeout=10)
    assert report.status_code == 200, report.text
    checks = report.json()["checks"]
    assert checks["redis"]["ok"] and checks["hub_metadata"]["ok"] and checks["keys"]["ok"]


def test_readyz_is_503_when_redis_is_unreachable(stack):
    app = create_app(stack.config, redis_client=redis.Redis(port=1, socket_connect_timeout=0.2))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["ready"] is False and body["checks"]["redis"]["ok"] is False


def test_metrics_count_sign_ins_by_council_and_outcome(stack):
    completed = metric(stack, "broker_signins_completed_total", council="test-borough",
                       level="LEVEL_2")
    failed = metric(stack, "broker_signins_failed_total", council="test-borough", reason="cancelled")
    sign_in(stack)
    attempt = authorize(stack)
    post_to_acs(stack, hub_messages.failure(stack, attempt.authn_request_id, "cancel"),
                attempt.relay_state)
    assert metric(stack, "broker_signins_completed_total", council="test-borough",
                  level="LEVEL_2") == completed + 1
    assert metric(stack, "broker_signins_failed_total", council="test-borough",
                  reason="cancelled") == failed + 1
    text = requests.get(f"{stack.broker_url}/metrics", timeout=10).text
    assert "broker_request_duration_seconds_bucket" in text
    assert 'broker_certificate_expiry_days{certificate="saml-signing"}' in text
    assert "broker_hub_metadata_age_seconds" in text


def test_a_proxys_request_id_is_kept_and_echoed(stack):
    response = requests.get(f"{stack.broker_url}/healthz", timeout=10,
                            headers={"X-Request-ID": "proxy-abc-123"})
    assert response.headers["X-Request-ID"] == "proxy-abc-123"


def test_an_unsafe_request_id_is_replaced(stack):
    response = requests.get(f"{stack.broker_url}/healthz", timeout=10,
                            headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-ID"])


def test_log_lines_are_json_with_request_and_flow_ids(stack):
    app = stack.broker_app
    record = logging.LogRecord("broker.signin", logging.INFO, __file__, 1, "sign-in %s", ("x",), None)
    record.event = "signin.completed"
    with app.test_request_context("/", headers={"X-Request-ID": "rid-1"}):
        from flask import g

        g.request_id, g.flow_id = "rid-1", "abcd1234"
        entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "rid-1" and entry["flow_id"] == "abcd1234"
    assert entry["message"] == "sign-in x" and entry["event"] == "signin.completed"


DISTINCTIVE = {
    "first": "Zebediah", "middle": "Quillon", "surname": "Fotheringay-Ximenez",
    "dob": "1931-02-29".replace("29", "28"), "post_code": "QX9 7ZZ", "street": "77 Xylophone Row",
    "pid": "distinctive-pid-QQQ-777",
}


def distinctive_dataset() -> MatchingDataset:
    return MatchingDataset(
        first_names=(MatchingValue(DISTINCTIVE["first"], True),),
        middle_names=(MatchingValue(DISTINCTIVE["middle"], True),),
        surnames=(MatchingValue(DISTINCTIVE["surname"], True),),
        dates_of_birth=(MatchingValue(DISTINCTIVE["dob"], True),),
        current_addresses=(Address((DISTINCTIVE["street"],), DISTINCTIVE["post_code"],
                                   verified=True, valid_from=date(2020, 1, 1)),))


def test_no_personal_data_reaches_any_log_line(stack, caplog):
    caplog.set_level(logging.DEBUG)
    dataset = distinctive_dataset()
    formatter = JsonFormatter()
    for _ in range(2):
        attempt = authorize(stack)
        answer = post_to_acs(stack, hub_messages.success(
            stack, attempt.authn_request_id, dataset=dataset, pid=DISTINCTIVE["pid"]),
            attempt.relay_state)
        code = requests.utils.urlparse(answer.headers["Location"]).query
        params = dict(part.split("=", 1) for part in code.split("&"))
        token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
        requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                     headers={"Authorization": f"Bearer {token['access_token']}"})
    # A forged variant and a replay produce warnings: they must not leak either.
    attempt = authorize(stack)
    message = hub_messages.success(stack, "_not-this-flow", dataset=dataset, pid=DISTINCTIVE["pid"])
    post_to_acs(stack, message, attempt.relay_state)
    captured = "\n".join(record.getMessage() + " " + formatter.format(record)
                         for record in caplog.records if record.name != "werkzeug")
    assert "sign-in completed" in captured
    for value in DISTINCTIVE.values():
        assert value not in captured, value
    from broker.identity import LevelOfAssurance
    from broker.pairwise import hash_pid

    hashed = hash_pid(stack.hub.idp.entity_id, "https://test-borough.example.gov.uk",
                      DISTINCTIVE["pid"], LevelOfAssurance.LEVEL_2)
    assert hashed not in captured


@pytest.fixture
def served_broker(tmp_path, keys_dir, redis_url):
    from tests.conftest import Ports, write_config

    port = free_port()
    ports = Ports(port, free_port(), free_port())
    path = write_config(tmp_path, keys_dir, ports, redis_url, f"served-{port}:")
    env = {**os.environ, "BROKER_CONFIG": str(path),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    process = subprocess.Popen([sys.executable, "-m", "broker.cli", "serve", "--port", str(port),
                                "--workers", "2"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:  # the server is stopped even when it never became ready
        deadline = time.time() + 30
        while time.time() < deadline:
            assert process.poll() is None, process.stdout.read()
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_metrics_add_up_across_gunicorn_workers(served_broker):
    url, _ = served_broker
    for _ in range(40):
        requests.get(f"{url}/healthz", timeout=5, headers={"Connection": "close"})
    text = requests.get(f"{url}/metrics", timeout=5).text
    counts = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith("broker_request_duration_seconds_count")
              and 'endpoint="/healthz"' in line]
    assert sum(counts) >= 40


def test_served_broker_logs_json_lines(served_broker):
    url, process = served_broker
    requests.get(f"{url}/authorize?client_id=nobody", timeout=5)
    process.terminate()
    output = process.communicate(timeout=30)[0]
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert lines, output
    entries = [json.loads(line) for line in lines]
    assert any(entry.get("message") == "authorize: unknown client" and entry.get("request_id")
               for entry in entries)


def test_an_extra_field_never_overwrites_the_log_level():
    record = logging.LogRecord("broker.audit", logging.INFO, __file__, 1, "x", (), None)
    record.level = "LEVEL_2"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "info" and entry["extra_level"] == "LEVEL_2"


def test_two_brokers_on_one_host_do_not_share_a_gunicorn_control_socket():
    from broker.serve import gunicorn_options

    assert gunicorn_options("127.0.0.1:1", 1)["control_socket_disable"] is True


@pytest.mark.parametrize("created", [1_765_000_000.0, 1_765_000_000.9995, 1_765_000_000.9999996,
                                     1_765_000_000.0000004, 1_765_000_059.999])
def test_a_log_lines_time_is_utc_to_the_millisecond(created):
    record = logging.LogRecord("broker", logging.INFO, __file__, 1, "x", (), None)
    record.created = created
    entry = json.loads(JsonFormatter().format(record))
    assert entry["time"] == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
