"""npm's oidc-provider (certified by the OpenID Foundation) run by the test suite with node, and a
resident who signs in at its development login page."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import requests

from tests.conftest import free_port
from tests.forms import form_fields

SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def certified_provider(clients: list[dict]) -> Iterator[str]:
    """Starts oidc-provider on a free port with `clients`; yields its issuer; stops it."""
    node = shutil.which("node")
    assert node, "the tests need node (make installs oidc-provider with npm ci)"
    assert (ROOT / "node_modules" / "oidc-provider").is_dir(), "run `make assets` (npm ci) first"
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([node, str(SCRIPT)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={"PATH": "/usr/bin:/bin", "OP_PORT": str(port),
                                    "OP_CLIENTS": json.dumps(clients), "NODE_ENV": "test"})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{issuer}/.well-known/openid-configuration", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read() if process.poll() is not None else ""
                raise AssertionError(f"oidc-provider did not start: {output[-2000:]}")
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def sign_in_at_provider(browser: requests.Session, authorization_url: str, login: str,
                        redirect_prefix: str) -> str:
    """Logs in as `login` at oidc-provider's development pages and consents; returns the URL it
    redirects the browser to at the broker (not followed)."""
    response = browser.get(authorization_url, allow_redirects=False, timeout=10)
    for _step in range(10):
        location = response.headers.get("Location", "")
        if response.is_redirect and location.startswith(redirect_prefix):
            return location
        if response.is_redirect:
            response = browser.get(urljoin(response.url, location), allow_redirects=False,
                                   timeout=10)
            continue
        assert response.status_code == 200, response.text[:500]
        _method, action, fields = form_fields(response.text)
        if fields.get("prompt") == "login":
            fields.update(login=login, password="any password")
        response = browser.post(urljoin(response.url, action), data=fields,
                                allow_redirects=False, timeout=10)
    raise AssertionError("oidc-provider never sent the browser back")
