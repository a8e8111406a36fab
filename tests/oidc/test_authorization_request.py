"""/authorize refuses, before the hub, what it would refuse later, and bounds what a flow stores."""

from __future__ import annotations

import json

import requests

from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.oidc_client import authorize, pkce_pair, query


def refused(attempt) -> dict[str, str]:
    """The error redirect, and proof that the resident was not sent to the hub."""
    assert attempt.relay_state is None, "the resident was sent to the hub"
    assert attempt.response.status_code == 302, attempt.response.text
    return query(attempt.response.headers["Location"])


def flow_keys(stack) -> list[bytes]:
    return list(stack.redis.scan_iter(f"{stack.prefix}flow:*"))


def test_discovery_lists_rs256_beside_the_default_es256(oidc_stack):
    discovery = requests.get(f"{oidc_stack.broker_url}/.well-known/openid-configuration",
                             timeout=10).json()
    assert {"ES256", "RS256"} <= set(discovery["id_token_signing_alg_values_supported"])
    assert discovery["request_parameter_supported"] is False
    assert discovery["request_uri_parameter_supported"] is False


def test_request_object_is_request_not_supported(oidc_stack):
    params = refused(authorize(oidc_stack, request="eyJhbGciOiJub25lIn0.e30."))
    assert params["error"] == "request_not_supported"
    assert params["iss"] == oidc_stack.broker_url


def test_request_uri_outside_par_is_request_uri_not_supported(oidc_stack):
    params = refused(authorize(oidc_stack, request_uri="https://council.example/request.jwt"))
    assert params["error"] == "request_uri_not_supported"


def test_unsupported_response_mode_is_refused_before_the_hub(oidc_stack):
    params = refused(authorize(oidc_stack, response_mode="form_post"))
    assert params["error"] == "invalid_request"


def test_scope_without_openid_is_refused_before_the_hub(oidc_stack):
    params = refused(authorize(oidc_stack, scope="profile address"))
    assert params["error"] == "invalid_scope"


def test_missing_response_type_is_invalid_request(oidc_stack):
    params = refused(authorize(oidc_stack, response_type=None))
    assert params["error"] == "invalid_request"


def test_unsupported_response_type_description_does_not_repeat_the_input(oidc_stack):
    params = refused(authorize(oidc_stack, response_type="token<script>"))
    assert params["error"] == "unsupported_response_type"
    assert "<script>" not in params["error_description"]


def test_over_long_state_is_refused_before_anything_is_stored(oidc_stack):
    params = refused(authorize(oidc_stack, state="s" * 1025))
    assert params["error"] == "invalid_request"
    assert flow_keys(oidc_stack) == []


def test_request_larger_than_a_flow_may_hold_is_refused_before_anything_is_stored(oidc_stack):
    claims = json.dumps({"userinfo": {f"x{i}": None for i in range(400)}})[:4096]
    claims = claims[:claims.rfind(",")] + "}}"
    params = refused(authorize(oidc_stack, claims=claims, state="s" * 1024,
                               acr_values="a" * 512, nonce="n" * 255, ui_locales="en" * 30))
    assert params["error"] == "invalid_request"
    assert flow_keys(oidc_stack) == []


def test_unknown_parameters_are_not_stored_in_the_flow(oidc_stack):
    _, challenge = pkce_pair()
    data = {"response_type": "code", "client_id": COUNCIL_CLIENT_ID, "scope": "openid",
            "redirect_uri": f"{oidc_stack.council_url}/callback", "state": "s",
            "code_challenge": challenge, "code_challenge_method": "S256"}
    data.update({f"junk{i}": "j" * 4000 for i in range(30)})
    response = requests.post(f"{oidc_stack.broker_url}/authorize", data=data, timeout=10)
    assert response.status_code == 200 and 'id="hub-handoff"' in response.text
    (key,) = flow_keys(oidc_stack)
    assert oidc_stack.redis.strlen(key) < 16 * 1024


def test_par_refuses_a_request_object(oidc_stack):
    _, challenge = pkce_pair()
    response = requests.post(f"{oidc_stack.broker_url}/par", auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
                             timeout=10, data={
        "response_type": "code", "scope": "openid", "request": "eyJhbGciOiJub25lIn0.e30.",
        "redirect_uri": f"{oidc_stack.council_url}/callback",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert response.status_code == 400
    assert response.json()["error"] == "request_not_supported"
