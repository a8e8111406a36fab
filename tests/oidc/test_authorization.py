"""/authorize: every rule a misbehaving client could break, and the spec's answer to it."""

from __future__ import annotations

import base64
import json

import requests

from tests.conftest import COUNCIL_CLIENT_ID
from tests.oidc.conftest import OTHER_COUNCIL_CLIENT, SAME_COUNCIL_CLIENT, SECRET
from tests.oidc_client import authorize, query, redeem, sign_in, validate_id_token

LEVEL_3 = "urn:uk:gov:cabinet-office:tc:saml:authn-context:level3"


def error_of(attempt) -> dict[str, str]:
    assert attempt.response.status_code == 302, attempt.response.text
    return query(attempt.response.headers["Location"])


def authn_request_xml(attempt) -> str:
    return base64.b64decode(attempt.saml_request).decode()


def test_only_the_code_response_type_is_supported(oidc_stack):
    params = error_of(authorize(oidc_stack, response_type="token"))
    assert params["error"] == "unsupported_response_type"
    assert params["state"] and params["iss"] == oidc_stack.broker_url


def test_nonce_longer_than_255_characters_is_invalid_request(oidc_stack):
    attempt = authorize(oidc_stack, nonce="n" * 256)
    assert error_of(attempt)["error"] == "invalid_request"


def test_prompt_none_without_a_broker_session_is_login_required(oidc_stack):
    attempt = authorize(oidc_stack, prompt="none")
    params = error_of(attempt)
    assert params["error"] == "login_required"
    assert params["state"] == attempt.state


def test_prompt_none_with_a_broker_session_succeeds_without_the_hub(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    attempt, params = sign_in(oidc_stack, browser, prompt="none")
    assert attempt.relay_state is None
    assert "code" in params and params["state"] == attempt.state


def test_prompt_login_forces_fresh_authentication_at_the_hub(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    attempt = authorize(oidc_stack, session=browser, prompt="login")
    assert 'ForceAuthn="true"' in authn_request_xml(attempt)


def test_max_age_shorter_than_the_session_sends_force_authn(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    attempt = authorize(oidc_stack, session=browser, max_age="0")
    assert attempt.relay_state is not None
    assert 'ForceAuthn="true"' in authn_request_xml(attempt)


def test_a_plain_request_does_not_force_authentication(oidc_stack):
    assert "ForceAuthn" not in authn_request_xml(authorize(oidc_stack))


def test_acr_values_raise_the_minimum_level_sent_to_the_hub(oidc_stack):
    attempt = authorize(oidc_stack, acr_values=LEVEL_3)
    xml = authn_request_xml(attempt)
    assert 'Comparison="minimum"' in xml and LEVEL_3 in xml


def test_without_acr_values_the_clients_default_level_is_requested(oidc_stack):
    assert ":level2<" in authn_request_xml(authorize(oidc_stack))


def test_session_is_not_reused_when_the_council_asks_for_a_higher_level(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    attempt = authorize(oidc_stack, session=browser, acr_values=LEVEL_3)
    assert attempt.relay_state is not None


def test_second_council_app_reuses_the_session_with_an_unlinkable_subject(oidc_stack):
    browser = requests.Session()
    first, first_params = sign_in(oidc_stack, browser)
    first_sub = validate_id_token(oidc_stack, redeem(oidc_stack, first_params["code"],
                                                     first.verifier, first.redirect_uri
                                                     ).json()["id_token"], first.nonce)["sub"]
    second, params = sign_in(oidc_stack, browser, client_id=OTHER_COUNCIL_CLIENT)
    assert second.relay_state is None
    token = redeem(oidc_stack, params["code"], second.verifier, second.redirect_uri,
                   auth=(OTHER_COUNCIL_CLIENT, SECRET)).json()
    claims = _claims(oidc_stack, token["id_token"], OTHER_COUNCIL_CLIENT)
    assert claims["sub"] != first_sub
    info = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["given_name"] == "Jane" and info["sub"] == claims["sub"]


def test_clients_of_one_council_share_the_pairwise_subject(oidc_stack):
    browser = requests.Session()
    first, first_params = sign_in(oidc_stack, browser)
    sub = validate_id_token(oidc_stack, redeem(oidc_stack, first_params["code"], first.verifier,
                                               first.redirect_uri).json()["id_token"],
                            first.nonce)["sub"]
    second, params = sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)
    token = redeem(oidc_stack, params["code"], second.verifier, second.redirect_uri,
                   auth=(SAME_COUNCIL_CLIENT, SECRET)).json()
    assert _claims(oidc_stack, token["id_token"], SAME_COUNCIL_CLIENT)["sub"] == sub


def test_login_hint_and_unknown_parameters_are_ignored(oidc_stack):
    attempt = authorize(oidc_stack, login_hint="someone@example.com", frobnicate="yes")
    assert attempt.relay_state is not None


def test_malformed_claims_parameter_is_invalid_request(oidc_stack):
    assert error_of(authorize(oidc_stack, claims="{not json"))["error"] == "invalid_request"
    assert error_of(authorize(oidc_stack, claims='["a"]'))["error"] == "invalid_request"


def test_claims_request_releases_verified_claims_in_userinfo_and_id_token(oidc_stack):
    request = {"userinfo": {"verified_claims": {"verification": {"assurance_level": None},
                                                "claims": {"given_name": None}}},
               "id_token": {"birthdate": {"essential": True}}}
    attempt, params = sign_in(oidc_stack, scope="openid", claims=json.dumps(request))
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    claims = validate_id_token(oidc_stack, token["id_token"], attempt.nonce)
    assert claims["birthdate"] == "1980-05-01"
    assert "given_name" not in claims
    info = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    verification = info["verified_claims"]["verification"]
    assert verification["trust_framework"] == "uk_tfida"
    assert verification["assurance_level"] == "LEVEL_2"
    assert info["verified_claims"]["claims"]["given_name"] == "Jane"


def test_verified_claims_hold_only_what_the_hub_verified(oidc_stack):
    request = {"userinfo": {"verified_claims": None}}
    attempt, params = sign_in(oidc_stack, identity="sam", claims=json.dumps(request))
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    info = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["address"]["postal_code"] == "NT1 1AA"          # newest address, unverified
    assert "address" not in info["verified_claims"]["claims"]     # so not among verified claims


def test_a_client_never_receives_claims_beyond_its_configuration(oidc_stack):
    attempt, params = sign_in(oidc_stack, client_id="claims-limited",
                              claims=json.dumps({"userinfo": {"birthdate": None}}))
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                   auth=("claims-limited", SECRET)).json()
    info = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["given_name"] == "Jane"
    assert "birthdate" not in info and "family_name" not in info


def test_authorize_accepts_post(oidc_stack):
    from tests.oidc_client import pkce_pair

    _, challenge = pkce_pair()
    response = requests.post(f"{oidc_stack.broker_url}/authorize", timeout=10, data={
        "response_type": "code", "client_id": COUNCIL_CLIENT_ID, "scope": "openid",
        "redirect_uri": f"{oidc_stack.council_url}/callback", "state": "s",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert response.status_code == 200 and 'id="hub-handoff"' in response.text


def test_oversized_parameters_are_refused_with_a_page(oidc_stack):
    attempt = authorize(oidc_stack, state="s" * 5000)
    assert attempt.response.status_code == 400
    assert "Location" not in attempt.response.headers


def _claims(stack, id_token: str, audience: str) -> dict:
    import jwt

    key = jwt.PyJWKClient(f"{stack.broker_url}/.well-known/jwks.json").get_signing_key_from_jwt(
        id_token)
    return jwt.decode(id_token, key.key, algorithms=["ES256", "RS256"], audience=audience,
                      issuer=stack.broker_url)
