"""Certified relying parties, unmodified, against the running stack: Node's openid-client 6 and
Python's oic (pyoidc) 1.7 each complete an authorization code + PKCE sign-in with
client_secret_basic, client_secret_post and private_key_jwt, with their default settings (the
only setting a test gives is the client authentication method, or for openid-client only a
secret string, and for openid-client the stack's plain http on 127.0.0.1). Both are installed
from their registries by `make` (package-lock.json, pyproject's dev extras); a test skips, saying
so, only when one is not installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import lxml.html
import pytest
import requests
from joserfc.jwk import RSAKey

from tests import hub_messages
from tests.oidc.conftest import client_entry
from tests.oidc_client import AuthorizationAttempt, post_to_acs

ROOT = Path(__file__).resolve().parents[2]
NODE_CLIENT = ROOT / "node_modules" / "openid-client" / "package.json"
NODE_RP = Path(__file__).parent / "certified" / "openid_client_rp.mjs"
BASIC_CLIENT, JWT_CLIENT, RP_SECRET = "certified-basic", "certified-jwt", "certified-rp-secret"
POST_CLIENT = "certified-post"


@pytest.fixture(scope="module")
def rp_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True)


@pytest.fixture
def certified_stack(stack_factory, oidc_keys, keys_dir, rp_key):
    """Clients registered as certified RPs expect by default: RS256 ID tokens."""

    def changes(ports):
        return {
            "oidc.signing_keys": [{"file": str(keys_dir / "broker-oidc-signing.jwk.json")},
                                  {"file": str(oidc_keys["files"]["rsa"])}],
            "clients": [
                client_entry(BASIC_CLIENT, ports, client_secret=RP_SECRET, scopes=[
                    "openid", "profile"], id_token_signed_response_alg="RS256"),
                client_entry(POST_CLIENT, ports, client_secret=RP_SECRET, scopes=[
                    "openid", "profile"], id_token_signed_response_alg="RS256",
                             token_endpoint_auth_method="client_secret_post"),
                client_entry(JWT_CLIENT, ports, client_secret=None, scopes=["openid", "profile"],
                             token_endpoint_auth_method="private_key_jwt",
                             id_token_signed_response_alg="RS256",
                             jwks={"keys": [rp_key.as_dict(private=False)]}),
            ],
        }

    return stack_factory(changes)


def resident_signs_in(stack, authorization_url: str) -> str:
    """The resident's browser: the broker, the hub's answer, and back; returns the callback URL."""
    browser = requests.Session()
    handoff = browser.get(authorization_url, allow_redirects=False, timeout=10)
    assert handoff.status_code == 200 and 'id="hub-handoff"' in handoff.text, handoff.text[:500]
    document = lxml.html.fromstring(handoff.text)
    attempt = AuthorizationAttempt(handoff, "", "", "", "",
                                   document.xpath('//input[@name="SAMLRequest"]/@value')[0],
                                   document.xpath('//input[@name="RelayState"]/@value')[0])
    answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id),
                         attempt.relay_state, session=browser)
    assert answer.status_code == 302, answer.text[:500]
    return answer.headers["Location"]


# --- Node: openid-client 6 --------------------------------------------------------------------

def node_sign_in(stack, client_id: str, **settings: str) -> dict:
    if shutil.which("node") is None or not NODE_CLIENT.exists():
        pytest.skip("openid-client is not installed (npm could not reach its registry): "
                    "run `npm ci` to test against it")
    environ = {**os.environ, "RP_ISSUER": stack.broker_url, "RP_CLIENT_ID": client_id,
               "RP_REDIRECT_URI": f"{stack.council_url}/callback", **settings}
    process = subprocess.Popen(["node", str(NODE_RP)], cwd=ROOT, env=environ, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    timer = threading.Timer(60, process.kill)
    timer.start()
    try:
        first = process.stdout.readline()
        assert first, process.stderr.read()
        callback = resident_signs_in(stack, json.loads(first)["authorization_url"])
        process.stdin.write(callback + "\n")
        process.stdin.flush()
        result = process.stdout.readline()
        assert result, process.stderr.read()
        return json.loads(result)
    finally:
        timer.cancel()
        process.kill()
        process.wait()


def test_openid_client_signs_in_with_client_secret_basic(certified_stack):
    result = node_sign_in(certified_stack, BASIC_CLIENT, RP_CLIENT_SECRET=RP_SECRET)
    assert result["claims"]["iss"] == certified_stack.broker_url
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["given_name"] == "Jane"


def test_openid_client_given_only_a_secret_string_signs_in_with_client_secret_post(
        certified_stack):
    result = node_sign_in(certified_stack, POST_CLIENT, RP_SECRET_ONLY="1",
                          RP_CLIENT_SECRET=RP_SECRET)
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["given_name"] == "Jane"


def test_openid_client_signs_in_with_private_key_jwt(certified_stack, rp_key):
    result = node_sign_in(certified_stack, JWT_CLIENT,
                          RP_PRIVATE_JWK=json.dumps(rp_key.as_dict(private=True)))
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["family_name"] == "Doe"


# --- Python: oic (pyoidc) 1.7 -----------------------------------------------------------------

def pyoidc_sign_in(stack, client_id: str, method: str, rp_key: RSAKey | None = None) -> dict:
    oic = pytest.importorskip("oic", reason="oic (pyoidc) is not installed (pip could not reach "
                                            "its registry): run `make` to test against it")
    from oic.oic import Client
    from oic.oic.message import AuthorizationResponse, RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD
    from oic.utils.keyio import KeyBundle

    assert oic.__version__.startswith("1.7")
    redirect_uri = f"{stack.council_url}/callback"
    rp = Client(client_id=client_id, client_authn_method=CLIENT_AUTHN_METHOD)
    rp.provider_config(stack.broker_url)
    registration = {"client_id": client_id, "redirect_uris": [redirect_uri],
                    "token_endpoint_auth_method": method,
                    "id_token_signed_response_alg": "RS256"}
    if method in ("client_secret_basic", "client_secret_post"):
        registration["client_secret"] = RP_SECRET
    rp.store_registration_info(RegistrationResponse(**registration))
    if rp_key is not None:
        rp.keyjar.add_kb("", KeyBundle(keys=[rp_key.as_dict(private=True)], keyusage=["sig"]))
    pkce, verifier = rp.add_code_challenge()
    state, nonce = "pyoidc-state", "pyoidc-nonce"
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": client_id, "response_type": "code", "scope": ["openid", "profile"],
        "redirect_uri": redirect_uri, "state": state, "nonce": nonce, **pkce})
    callback = resident_signs_in(stack, request.request(rp.authorization_endpoint))
    response = rp.parse_response(AuthorizationResponse, info=urlparse(callback).query,
                                 sformat="urlencoded")
    assert response["state"] == state
    token = rp.do_access_token_request(state=state, request_args={
        "code": response["code"], "redirect_uri": redirect_uri, "code_verifier": verifier},
        authn_method=method)
    assert "error" not in token.to_dict(), token.to_dict()
    id_token = token["id_token"]
    assert id_token["nonce"] == nonce
    userinfo = rp.do_user_info_request(state=state)
    assert "error" not in userinfo.to_dict(), userinfo.to_dict()
    return {"claims": id_token.to_dict(), "userinfo": userinfo.to_dict()}


def test_pyoidc_signs_in_with_client_secret_basic(certified_stack):
    result = pyoidc_sign_in(certified_stack, BASIC_CLIENT, "client_secret_basic")
    assert result["claims"]["iss"] == certified_stack.broker_url
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["given_name"] == "Jane"


def test_pyoidc_signs_in_with_client_secret_post(certified_stack):
    result = pyoidc_sign_in(certified_stack, POST_CLIENT, "client_secret_post")
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["given_name"] == "Jane"


def test_pyoidc_signs_in_with_private_key_jwt(certified_stack, rp_key):
    result = pyoidc_sign_in(certified_stack, JWT_CLIENT, "private_key_jwt", rp_key)
    assert result["userinfo"]["sub"] == result["claims"]["sub"]
    assert result["userinfo"]["family_name"] == "Doe"
