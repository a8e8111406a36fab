"""Security headers and cookies of the resident-facing pages."""

from __future__ import annotations

import re

import pytest

from broker.app import create_app
from broker.config import load_config
from tests.conftest import COUNCIL_CLIENT_ID, Ports, free_port, write_config
from tests.oidc_client import pkce_pair


@pytest.fixture
def broker_app(tmp_path, keys_dir, redis_url):
    ports = Ports(free_port(), free_port(), free_port())
    return create_app(load_config(write_config(tmp_path, keys_dir, ports, redis_url, "hdr:"),
                                  environ={}))


@pytest.fixture
def https_broker_app(tmp_path, keys_dir, redis_url):
    ports = Ports(free_port(), free_port(), free_port())
    config = write_config(tmp_path, keys_dir, ports, redis_url, "hdr:",
                          issuer="https://sign-in.example.gov.uk")
    return create_app(load_config(config, environ={}))


def csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in policy.split(";")) if part}


def test_pages_forbid_inline_scripts_without_the_nonce(broker_app):
    response = broker_app.test_client().get("/no-such-page")
    policy = csp(response)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert re.fullmatch(r"script-src 'self' 'nonce-[\w-]{16,}'", policy["script-src"])


def test_every_inline_script_carries_the_nonce(broker_app):
    response = broker_app.test_client().get("/no-such-page")
    nonce = re.search(r"'nonce-([\w-]+)'", response.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", response.get_data(as_text=True))
    assert scripts, "the page should load GOV.UK Frontend's scripts"
    assert all(f'nonce="{nonce}"' in attributes for attributes in scripts)


def test_the_nonce_is_fresh_for_every_response(broker_app):
    client = broker_app.test_client()
    first, second = (csp(client.get("/no-such-page"))["script-src"] for _ in range(2))
    assert first != second


def test_pages_cannot_be_framed(broker_app):
    response = broker_app.test_client().get("/no-such-page")
    assert csp(response)["frame-ancestors"] == "frame-ancestors 'none'"


def test_pages_send_no_referrer(broker_app):
    assert broker_app.test_client().get("/no-such-page").headers["Referrer-Policy"] == "no-referrer"


def test_hsts_is_sent_over_tls(https_broker_app):
    response = https_broker_app.test_client().get("/healthz", base_url="https://sign-in.example.gov.uk")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_hsts_is_not_sent_over_plain_http(broker_app):
    assert "Strict-Transport-Security" not in broker_app.test_client().get("/healthz").headers


def test_language_cookie_is_httponly_lax_and_not_secure_on_plain_http(broker_app):
    response = broker_app.test_client().get("/no-such-page?lang=cy")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("broker_lang=cy;")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_language_cookie_is_secure_when_the_broker_is_public_over_https(https_broker_app):
    response = https_broker_app.test_client().get("/no-such-page?lang=cy",
                                                  base_url="https://sign-in.example.gov.uk")
    assert "Secure" in response.headers["Set-Cookie"]


def test_session_cookie_settings_are_httponly_lax_and_secure_over_https(https_broker_app):
    config = https_broker_app.config
    assert (config["SESSION_COOKIE_HTTPONLY"], config["SESSION_COOKIE_SAMESITE"],
            config["SESSION_COOKIE_SECURE"]) == (True, "Lax", True)


def test_hand_off_page_carries_the_nonce_on_its_auto_submit(stack):
    import requests
    _verifier, challenge = pkce_pair()
    response = requests.get(f"{stack.broker_url}/authorize", params={
        "response_type": "code", "client_id": COUNCIL_CLIENT_ID, "scope": "openid",
        "redirect_uri": f"{stack.council_url}/callback", "state": "s", "nonce": "n",
        "code_challenge": challenge, "code_challenge_method": "S256"}, timeout=10)
    nonce = re.search(r"'nonce-([\w-]+)'", response.headers["Content-Security-Policy"]).group(1)
    assert f'<script nonce="{nonce}">document.getElementById("hub-handoff").submit();' in response.text


def test_the_broker_never_opens_or_writes_flasks_session_cookie(broker_app):
    """Nothing in the broker keeps state in Flask's signed cookie: it is not decoded on each
    request (issue 27) and cannot be written by mistake."""
    from flask import session

    with broker_app.test_request_context("/healthz", headers={"Cookie": "broker_flask=x.y.z"}):
        broker_app.preprocess_request()
        with pytest.raises(RuntimeError):
            session["written"] = "by mistake"
    response = broker_app.test_client().get("/no-such-page?lang=cy")
    assert all(not c.startswith(("broker_flask", "session"))
               for c in response.headers.getlist("Set-Cookie"))
