"""The sign-in as a council app's OIDC client sees it, with the hub's answers built by the test."""

from __future__ import annotations

import time

import requests

from tests import hub_messages
from tests.forms import link
from tests.oidc_client import authorize, post_to_acs, query, redeem, validate_id_token


def signed_in_code(stack, identity: str = "jane", **authorize_params):
    attempt = authorize(stack, **authorize_params)
    answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, identity),
                         attempt.relay_state)
    assert answer.status_code == 302, answer.text
    return attempt, query(answer.headers["Location"])


def test_code_is_redeemed_for_an_id_token_that_validates_against_jwks(stack):
    attempt, params = signed_in_code(stack)
    assert params["state"] == attempt.state
    assert params["iss"] == stack.broker_url
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"].lower() == "bearer"
    claims = validate_id_token(stack, body["id_token"], attempt.nonce)
    assert "given_name" not in claims  # scope claims come from /userinfo (OIDC Core 5.4)
    assert claims["acr"].endswith(":level2")
    assert claims["exp"] > time.time()
    assert len(claims["sub"]) == 64


def test_userinfo_returns_the_claims_for_the_access_token(stack):
    attempt, params = signed_in_code(stack)
    body = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    userinfo = requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200
    info = userinfo.json()
    assert info["birthdate"] == "1980-05-01"
    assert info["address"]["postal_code"] == "AB1 2CD"
    claims = validate_id_token(stack, body["id_token"], attempt.nonce)
    assert info["sub"] == claims["sub"]


def test_userinfo_without_a_valid_token_is_refused_with_www_authenticate(stack):
    response = requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                            headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert "invalid_token" in response.headers.get("WWW-Authenticate", "")


def test_reused_code_is_rejected(stack):
    attempt, params = signed_in_code(stack)
    first = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert first.status_code == 200
    second = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


def test_wrong_code_verifier_is_rejected(stack):
    attempt, params = signed_in_code(stack)
    response = redeem(stack, params["code"], "x" * 50, attempt.redirect_uri)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_rejected(stack):
    attempt, params = signed_in_code(stack)
    response = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                      auth=("council-app", "wrong-secret"))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_missing_pkce_challenge_is_rejected_with_invalid_request(stack):
    attempt = authorize(stack, code_challenge=None, code_challenge_method=None)
    assert attempt.response.status_code == 302
    params = query(attempt.response.headers["Location"])
    assert params["error"] == "invalid_request"
    assert params["state"] == attempt.state
    assert params["iss"] == stack.broker_url


def test_plain_pkce_challenge_is_rejected(stack):
    attempt = authorize(stack, code_challenge="a" * 43, code_challenge_method="plain")
    assert query(attempt.response.headers["Location"])["error"] == "invalid_request"


def test_unknown_client_sees_an_error_page_and_is_never_redirected(stack):
    attempt = authorize(stack, client_id="nobody")
    assert attempt.response.status_code == 400
    assert "Location" not in attempt.response.headers
    assert "this sign-in link is not valid" in attempt.response.text


def test_unregistered_redirect_uri_sees_an_error_page_and_is_never_redirected(stack):
    attempt = authorize(stack, redirect_uri=f"{stack.council_url}/callback/evil")
    assert attempt.response.status_code == 400
    assert "Location" not in attempt.response.headers


def test_unknown_relay_state_ends_on_the_session_expired_page(stack):
    attempt = authorize(stack)
    response = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id),
                           "not-a-flow")
    assert response.status_code == 400
    assert "has expired or is not recognised" in response.text


def test_response_for_another_flow_is_rejected(stack):
    first, second = authorize(stack), authorize(stack)
    response = post_to_acs(stack, hub_messages.success(stack, first.authn_request_id),
                           second.relay_state)
    assert response.status_code == 400
    assert "could not check your sign-in" in response.text
    assert query(link(response, "continue"))["error"] == "access_denied"


def test_a_response_cannot_be_used_twice(stack):
    attempt = authorize(stack)
    message = hub_messages.success(stack, attempt.authn_request_id)
    assert post_to_acs(stack, message, attempt.relay_state).status_code == 302
    again = post_to_acs(stack, message, attempt.relay_state)
    assert again.status_code == 400
    assert "Location" not in again.headers


def test_cancel_ends_on_a_clear_page_and_access_denied_for_the_council(stack):
    attempt = authorize(stack)
    page = post_to_acs(stack, hub_messages.failure(stack, attempt.authn_request_id, "cancel"),
                       attempt.relay_state)
    assert page.status_code == 200
    assert "You cancelled signing in" in page.text
    params = query(link(page, "continue"))
    assert params["error"] == "access_denied"
    assert params["state"] == attempt.state
    assert params["iss"] == stack.broker_url


def test_authentication_failure_ends_on_a_clear_page_and_access_denied(stack):
    attempt = authorize(stack)
    page = post_to_acs(stack, hub_messages.failure(stack, attempt.authn_request_id,
                                                   "authn-failed"), attempt.relay_state)
    assert "We could not verify your identity" in page.text
    params = query(link(page, "continue"))
    assert params["error"] == "access_denied"
    assert params["state"] == attempt.state


def test_discovery_advertises_s256_only_and_the_iss_parameter(stack):
    document = requests.get(f"{stack.broker_url}/.well-known/openid-configuration",
                            timeout=10).json()
    assert document["issuer"] == stack.broker_url
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["response_types_supported"] == ["code"]
