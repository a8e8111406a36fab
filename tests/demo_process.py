"""`broker demo` started as `make demo` starts it, on free ports, for the demo tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.conftest import free_port

PARTS = ("BROKER", "HUB", "COUNCIL", "ONELOGIN", "OIDC")


@contextmanager
def running_demo(keys_dir: Path, **environment: str
                 ) -> Iterator[tuple[subprocess.Popen, dict[str, str]]]:
    """The demo process (its output piped as text) and each part's URL by name, once the
    council app answers; a Redis URL nobody listens on, so the demo uses its in-process store."""
    ports = {name: free_port() for name in PARTS}
    env = {**os.environ, "BROKER_DEMO_HOST": "127.0.0.1", "BROKER_DEMO_KEYS": str(keys_dir),
           "BROKER_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", **environment}
    env.update({f"BROKER_DEMO_{name}_PORT": str(port) for name, port in ports.items()})
    process = subprocess.Popen([sys.executable, "-m", "broker.cli", "demo"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for _ in range(300):
            assert process.poll() is None, process.stdout.read()
            try:
                requests.get(urls["COUNCIL"], timeout=1)
                break
            except (requests.ConnectionError, requests.Timeout):  # still starting (first render)
                time.sleep(0.1)
        yield process, urls
    finally:
        process.terminate()
        process.wait(timeout=10)
