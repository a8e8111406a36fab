"""Pushed authorization requests, logout, discovery and key publication."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import jwt
import requests
import responses

from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.oidc.conftest import PAR_CLIENT, SAME_COUNCIL_CLIENT, SECRET
from tests.oidc_client import authorize, pkce_pair, query, redeem, sign_in


def push(stack, client_id=PAR_CLIENT, secret=SECRET, **overrides) -> requests.Response:
    _, challenge = pkce_pair()
    data = {"response_type": "code", "client_id": client_id, "scope": "openid profile",
            "redirect_uri": f"{stack.council_url}/callback", "state": "par-state",
            "nonce": "par-nonce", "code_challenge": challenge, "code_challenge_method": "S256"}
    data.update(overrides)
    return requests.post(f"{stack.broker_url}/par", data=data, auth=(client_id, secret),
                         timeout=10)


def test_a_pushed_request_is_used_through_its_request_uri(oidc_stack):
    pushed = push(oidc_stack)
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert 0 < body["expires_in"] <= 60
    response = requests.get(f"{oidc_stack.broker_url}/authorize", timeout=10, params={
        "client_id": PAR_CLIENT, "request_uri": body["request_uri"]})
    assert 'id="hub-handoff"' in response.text


def test_a_request_uri_is_single_use(oidc_stack):
    request_uri = push(oidc_stack).json()["request_uri"]
    params = {"client_id": PAR_CLIENT, "request_uri": request_uri}
    requests.get(f"{oidc_stack.broker_url}/authorize", params=params, timeout=10)
    again = requests.get(f"{oidc_stack.broker_url}/authorize", params=params, timeout=10,
                         allow_redirects=False)
    assert again.status_code == 400 and "Location" not in again.headers


def test_a_request_uri_belongs_to_the_client_that_pushed_it(oidc_stack):
    request_uri = push(oidc_stack).json()["request_uri"]
    response = requests.get(f"{oidc_stack.broker_url}/authorize", timeout=10,
                            allow_redirects=False,
                            params={"client_id": COUNCIL_CLIENT_ID, "request_uri": request_uri})
    assert response.status_code == 400


def test_par_requires_client_authentication(oidc_stack):
    response = push(oidc_stack, secret="wrong")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_par_validates_the_request_it_stores(oidc_stack):
    response = push(oidc_stack, code_challenge_method="plain")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_client_that_requires_par_cannot_use_plain_authorize(oidc_stack):
    attempt = authorize(oidc_stack, client_id=PAR_CLIENT)
    assert query(attempt.response.headers["Location"])["error"] == "invalid_request"


def test_rp_initiated_logout_ends_the_session_and_returns_with_state(oidc_stack):
    browser = requests.Session()
    attempt, params = sign_in(oidc_stack, browser)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        mock.post(re.compile(r"https://council-app.*\.example\.gov\.uk/bcl"), status=200)
        response = browser.get(f"{oidc_stack.broker_url}/logout", timeout=10,
                               allow_redirects=False, params={
                                   "id_token_hint": token["id_token"], "state": "bye",
                                   "post_logout_redirect_uri": f"{oidc_stack.council_url}/signed-out"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{oidc_stack.council_url}/signed-out?state=bye"
    again = authorize(oidc_stack, session=browser, prompt="none")
    assert query(again.response.headers["Location"])["error"] == "login_required"


def test_an_unregistered_post_logout_redirect_uri_is_never_followed(oidc_stack):
    browser = requests.Session()
    attempt, params = sign_in(oidc_stack, browser)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    response = browser.get(f"{oidc_stack.broker_url}/logout", timeout=10, allow_redirects=False,
                           params={"id_token_hint": token["id_token"],
                                   "post_logout_redirect_uri": "https://evil.example/"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_logout_without_an_id_token_hint_asks_the_resident_first(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    page = browser.get(f"{oidc_stack.broker_url}/logout", timeout=10)
    assert 'id="logout-confirm"' in page.text
    assert authorize(oidc_stack, session=browser, prompt="none").relay_state is None


def test_back_channel_logout_reaches_every_app_of_the_session(oidc_stack):
    browser = requests.Session()
    first, first_params = sign_in(oidc_stack, browser)
    second, _ = sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)
    token = redeem(oidc_stack, first_params["code"], first.verifier, first.redirect_uri).json()
    with responses.RequestsMock() as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        app_one = mock.post("https://council-app.example.gov.uk/bcl", status=200)
        app_two = mock.post("https://council-app-2.example.gov.uk/bcl", status=204)
        browser.get(f"{oidc_stack.broker_url}/logout", timeout=10, allow_redirects=False,
                    params={"id_token_hint": token["id_token"]})
    assert app_one.call_count == 1 and app_two.call_count == 1
    body = parse_qs(app_two.calls[0].request.body)
    logout_token = body["logout_token"][0]
    key = jwt.PyJWKClient(f"{oidc_stack.broker_url}/.well-known/jwks.json"
                          ).get_signing_key_from_jwt(logout_token)
    claims = jwt.decode(logout_token, key.key, algorithms=["ES256"], audience=SAME_COUNCIL_CLIENT,
                        issuer=oidc_stack.broker_url)
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert claims["sid"] and "nonce" not in claims
    id_claims = jwt.decode(token["id_token"], options={"verify_signature": False})
    assert claims["sid"] == id_claims["sid"]


def test_a_council_app_that_is_down_does_not_affect_the_residents_logout(oidc_stack):
    browser = requests.Session()
    attempt, params = sign_in(oidc_stack, browser)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        mock.post("https://council-app.example.gov.uk/bcl",
                  body=requests.ConnectionError("refused"))
        response = browser.get(f"{oidc_stack.broker_url}/logout", timeout=10,
                               params={"id_token_hint": token["id_token"]})
    assert response.status_code == 200
    assert "You have signed out" in response.text


def test_discovery_describes_every_endpoint_and_capability(oidc_stack):
    document = requests.get(f"{oidc_stack.broker_url}/.well-known/openid-configuration",
                            timeout=10).json()
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                     "pushed_authorization_request_endpoint", "end_session_endpoint"):
        assert document[endpoint].startswith(oidc_stack.broker_url)
    assert document["subject_types_supported"] == ["pairwise"]
    assert set(document["id_token_signing_alg_values_supported"]) == {"ES256", "RS256"}
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt"}
    assert document["claims_parameter_supported"] is True
    assert document["backchannel_logout_supported"] is True
    assert document["acr_values_supported"][1].endswith(":level2")
    rfc8414 = requests.get(f"{oidc_stack.broker_url}/.well-known/oauth-authorization-server",
                           timeout=10).json()
    assert rfc8414["issuer"] == document["issuer"]


def test_jwks_publishes_the_next_key_before_it_signs(oidc_stack):
    keys = requests.get(f"{oidc_stack.broker_url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert len(keys) == 3
    assert all("d" not in key for key in keys)
    attempt, params = sign_in(oidc_stack)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    kid = jwt.get_unverified_header(token["id_token"])["kid"]
    assert kid == oidc_stack.config.oidc.signing_keys[0].jwk["kid"]


def test_the_subject_is_stable_across_restarts_and_key_rotations(oidc_stack, stack_factory,
                                                                 keys_dir, oidc_keys):
    """The subject depends on the identity provider, the council and the resident only: not on
    keys or process."""
    from broker.devtools.stub_hub.identities import IDENTITIES
    from broker.identity import LevelOfAssurance
    from broker.pairwise import hash_pid

    rotated = stack_factory(lambda ports: {"oidc.signing_keys": [
        {"file": str(oidc_keys["files"]["next"])},
        {"file": str(keys_dir / "broker-oidc-signing.jwk.json"), "signs": False}]})
    for stack in (oidc_stack, rotated):
        attempt, params = sign_in(stack)
        token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                       auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET)).json()
        expected = hash_pid(stack.hub.idp.entity_id, "https://test-borough.example.gov.uk",
                            IDENTITIES["jane"].pid, LevelOfAssurance.LEVEL_2)
        assert jwt.decode(token["id_token"], options={"verify_signature": False})["sub"] == expected
