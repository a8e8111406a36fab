"""`make demo` as a newcomer meets it: `broker demo` with no Redis, driven like a browser."""

from __future__ import annotations

import time

import pytest
import requests

from tests.demo_process import running_demo
from tests.forms import follow, submit


@pytest.fixture
def demo(tmp_path):
    with running_demo(tmp_path) as (process, urls):
        process.broker_url = urls["BROKER"]
        yield urls["COUNCIL"], process


def test_demo_runs_without_redis_and_a_scripted_browser_signs_in(demo):
    council, process = demo
    browser = requests.Session()
    home = browser.get(council, timeout=10)
    handoff = follow(browser, home, "sign-in")
    chooser = submit(browser, handoff, "hub-handoff")
    answer = submit(browser, chooser)
    page = submit(browser, answer, "post-back")
    assert "Jane Doe" in page.text
    process.terminate()
    output = process.communicate(timeout=10)[0]
    assert "in-process store" in output
    assert f"Open {council}" in output


def test_every_address_the_demo_prints_opens_a_page_not_a_404(tmp_path):
    """Issue 26.4: a newcomer opens the broker's and the stub hub's printed URLs too."""
    with running_demo(tmp_path) as (process, urls):
        broker = requests.get(urls["BROKER"], timeout=10)
        assert broker.status_code == 200 and 'data-page="landing"' in broker.text
        assert urls["COUNCIL"] in broker.text                  # where to start instead
        hub = requests.get(urls["HUB"], timeout=10)
        assert hub.status_code == 200 and 'data-page="stub-home"' in hub.text
        cookies = requests.get(f"{urls['BROKER']}/cookies", timeout=10)
        assert cookies.status_code == 200 and "broker_session" in cookies.text
        process.terminate()
        printed = process.communicate(timeout=10)[0]
    for name in ("BROKER", "HUB", "COUNCIL"):
        assert urls[name] in printed


def test_the_stub_one_logins_own_address_is_a_page_not_a_404(tmp_path):
    with running_demo(tmp_path, BROKER_DEMO_UPSTREAM="one_login") as (_process, urls):
        page = requests.get(urls["ONELOGIN"], timeout=10)
        assert page.status_code == 200 and 'data-page="stub-home"' in page.text


def test_conformance_jwt_client_completes_a_full_flow_against_the_demo(demo):
    """An independent client (requests + PyJWT, nothing from the broker) using the demo's
    conformance-jwt client and its committed demo-only key: discovery, authorization, token,
    ID token validation, userinfo and logout."""
    import json
    import secrets
    from pathlib import Path

    import jwt
    from joserfc.jwk import ECKey

    from tests.oidc_client import pkce_pair, query

    _, process = demo
    broker = process.broker_url
    discovery = requests.get(f"{broker}/.well-known/openid-configuration", timeout=10).json()
    assert {"ES256", "RS256"} <= set(discovery["id_token_signing_alg_values_supported"])
    verifier, challenge = pkce_pair()
    browser = requests.Session()
    handoff = browser.get(discovery["authorization_endpoint"], timeout=10, params={
        "response_type": "code", "client_id": "conformance-jwt", "scope": "openid profile",
        "redirect_uri": "http://localhost:9999/callback", "state": "st", "nonce": "nn",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    chooser = submit(browser, handoff, "hub-handoff")
    answer = submit(browser, chooser)
    back = browser.post(f"{broker}/saml/acs", allow_redirects=False, timeout=10, data={
        "SAMLResponse": answer.text.split('name="SAMLResponse" value="')[1].split('"')[0],
        "RelayState": answer.text.split('name="RelayState" value="')[1].split('"')[0]})
    assert back.status_code == 303  # to the continuation, in the browser that started the flow
    back = browser.get(f"{broker}{back.headers['Location']}", allow_redirects=False, timeout=10)
    params = query(back.headers["Location"])
    assert back.headers["Location"].startswith("http://localhost:9999/callback")
    assert params["state"] == "st" and params["iss"] == discovery["issuer"]

    private = json.loads(Path("config/conformance-jwt.private.jwk.json").read_text())
    private.pop("_comment")
    key = ECKey.import_key(private)
    now = int(time.time())
    assertion = jwt.encode({"iss": "conformance-jwt", "sub": "conformance-jwt",
                            "aud": discovery["token_endpoint"], "jti": secrets.token_hex(8),
                            "iat": now, "exp": now + 60},
                           key.as_pem(private=True), algorithm="ES256", headers={"kid": key.kid})
    token = requests.post(discovery["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": params["code"],
        "redirect_uri": "http://localhost:9999/callback", "code_verifier": verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}).json()
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token["id_token"])
    claims = jwt.decode(token["id_token"], signing_key.key, algorithms=["ES256"],
                        audience="conformance-jwt", issuer=discovery["issuer"])
    assert claims["nonce"] == "nn" and "given_name" not in claims  # scope claims: /userinfo
    info = requests.get(discovery["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["sub"] == claims["sub"] and info["family_name"] == "Doe"
    assert info["given_name"] == "Jane"
    logout = browser.get(discovery["end_session_endpoint"], allow_redirects=False, timeout=10,
                         params={"id_token_hint": token["id_token"], "state": "bye",
                                 "post_logout_redirect_uri": "http://localhost:9999/logged-out"})
    assert logout.headers["Location"] == "http://localhost:9999/logged-out?state=bye"
