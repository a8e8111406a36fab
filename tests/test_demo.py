"""`make demo` as a newcomer meets it: `broker demo` with no Redis, driven like a browser."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import requests

from tests.conftest import free_port
from tests.forms import submit


@pytest.fixture
def demo(tmp_path):
    ports = {"BROKER": free_port(), "HUB": free_port(), "COUNCIL": free_port()}
    env = {**os.environ, "BROKER_DEMO_HOST": "127.0.0.1", "BROKER_DEMO_KEYS": str(tmp_path),
           "BROKER_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    env.update({f"BROKER_DEMO_{name}_PORT": str(port) for name, port in ports.items()})
    process = subprocess.Popen([sys.executable, "-m", "broker.cli", "demo"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    council = f"http://127.0.0.1:{ports['COUNCIL']}"
    for _ in range(300):
        assert process.poll() is None, process.stdout.read()
        try:
            requests.get(council, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield council, process
    process.terminate()
    process.wait(timeout=10)


def test_demo_runs_without_redis_and_a_scripted_browser_signs_in(demo):
    council, process = demo
    browser = requests.Session()
    home = browser.get(council, timeout=10)
    handoff = submit(browser, home)
    chooser = submit(browser, handoff, "hub-handoff")
    answer = submit(browser, chooser)
    page = submit(browser, answer, "post-back")
    assert "Jane Doe" in page.text
    process.terminate()
    output = process.communicate(timeout=10)[0]
    assert "in-process store" in output
    assert f"Open {council}" in output
