"""Client authentication at /token and /par, and the bearer token at /userinfo, as certified
relying parties send them: long-lived but single-use assertions, an audience naming only this
server, one authentication method per request, and errors in the specifications' own terms."""

from __future__ import annotations

import logging
import time

import requests

from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.oidc.conftest import JWT_CLIENT
from tests.oidc_client import (
    client_assertion,
    pkce_pair,
    redeem,
    redeem_with_assertion,
    sign_in,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def redeem_as_jwt_client(stack, oidc_keys, **claims) -> requests.Response:
    attempt, params = sign_in(stack, client_id=JWT_CLIENT)
    assertion = client_assertion(stack, JWT_CLIENT, oidc_keys["client_key"], **claims)
    return redeem_with_assertion(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                                 assertion)


def par_request(stack, **extra) -> dict[str, str]:
    _, challenge = pkce_pair()
    return {"response_type": "code", "scope": "openid",
            "redirect_uri": f"{stack.council_url}/callback", "code_challenge": challenge,
            "code_challenge_method": "S256", **extra}


def test_an_assertion_valid_for_sixty_minutes_is_accepted(oidc_stack, oidc_keys):
    response = redeem_as_jwt_client(oidc_stack, oidc_keys, exp=int(time.time()) + 3600)
    assert response.status_code == 200, response.text


def test_an_assertions_jti_is_kept_until_the_assertion_expires(oidc_stack, oidc_keys):
    response = redeem_as_jwt_client(oidc_stack, oidc_keys, exp=int(time.time()) + 3000)
    assert response.status_code == 200, response.text
    (key,) = oidc_stack.redis.scan_iter(f"{oidc_stack.prefix}seen:client-assertion:*")
    assert oidc_stack.redis.ttl(key) > 2900


def test_the_maximum_assertion_lifetime_is_configurable(stack_factory, oidc_keys):
    from tests.oidc.conftest import client_entry

    stack = stack_factory(lambda ports: {
        "oidc.client_assertion_max_lifetime_seconds": 600,
        "clients": [client_entry(JWT_CLIENT, ports, client_secret=None,
                                 token_endpoint_auth_method="private_key_jwt",
                                 jwks={"keys": [oidc_keys["client_key"].as_dict()]})]})
    response = redeem_as_jwt_client(stack, oidc_keys, exp=int(time.time()) + 1800)
    assert response.json()["error"] == "invalid_client"


def test_an_audience_array_of_this_server_alone_is_accepted(oidc_stack, oidc_keys):
    issuer = oidc_stack.broker_url
    response = redeem_as_jwt_client(oidc_stack, oidc_keys, aud=[issuer, f"{issuer}/token"])
    assert response.status_code == 200, response.text


def test_an_audience_array_holding_a_foreign_audience_is_refused(oidc_stack, oidc_keys):
    response = redeem_as_jwt_client(oidc_stack, oidc_keys, aud=[
        f"{oidc_stack.broker_url}/token", "https://other-provider.example/token"])
    assert response.json()["error"] == "invalid_client"


def test_the_par_endpoint_is_not_an_audience_at_the_token_endpoint(oidc_stack, oidc_keys):
    response = redeem_as_jwt_client(oidc_stack, oidc_keys, aud=f"{oidc_stack.broker_url}/par")
    assert response.json()["error"] == "invalid_client"


def test_the_par_endpoint_is_an_audience_at_the_par_endpoint(oidc_stack, oidc_keys):
    assertion = client_assertion(oidc_stack, JWT_CLIENT, oidc_keys["client_key"],
                                 audience=f"{oidc_stack.broker_url}/par")
    response = requests.post(f"{oidc_stack.broker_url}/par", timeout=10, data=par_request(
        oidc_stack, client_assertion=assertion, client_assertion_type=ASSERTION_TYPE))
    assert response.status_code == 201, response.text


def test_credentials_in_header_and_body_are_invalid_request_at_token(oidc_stack, oidc_keys):
    attempt, params = sign_in(oidc_stack)
    assertion = client_assertion(oidc_stack, COUNCIL_CLIENT_ID, oidc_keys["client_key"])
    response = requests.post(f"{oidc_stack.broker_url}/token", timeout=10,
                             auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET), data={
        "grant_type": "authorization_code", "code": params["code"],
        "redirect_uri": attempt.redirect_uri, "code_verifier": attempt.verifier,
        "client_assertion": assertion, "client_assertion_type": ASSERTION_TYPE})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_credentials_in_header_and_body_are_invalid_request_at_par(oidc_stack):
    response = requests.post(f"{oidc_stack.broker_url}/par", timeout=10,
                             auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
                             data=par_request(oidc_stack, client_secret=COUNCIL_CLIENT_SECRET))
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_a_body_too_large_is_a_json_oauth_error_at_token_and_par(oidc_stack):
    for endpoint in ("token", "par"):
        response = requests.post(f"{oidc_stack.broker_url}/{endpoint}", timeout=10,
                                 auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
                                 data={"grant_type": "authorization_code", "x": "y" * 600_000})
        assert response.status_code == 413, endpoint
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["error"] == "invalid_request"


def test_error_descriptions_never_repeat_what_was_sent(oidc_stack):
    marker = "zzmarker<b>"
    token = requests.post(f"{oidc_stack.broker_url}/token", timeout=10,
                          auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
                          data={"grant_type": f"password{marker}", "code": marker})
    par = requests.post(f"{oidc_stack.broker_url}/par", timeout=10,
                        auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
                        data=par_request(oidc_stack, response_type=f"token{marker}"))
    for response in (token, par):
        assert response.status_code == 400
        assert marker not in response.text


def test_plain_http_behind_a_proxy_is_an_oauth_error_and_a_log_line(oidc_stack, caplog):
    client = oidc_stack.broker_app.test_client()
    with caplog.at_level(logging.ERROR, logger="broker.oidc.views"):
        for endpoint in ("/token", "/par"):
            response = client.post(endpoint, base_url="http://broker.example.gov.uk",
                                   data={"grant_type": "authorization_code"},
                                   auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET))
            assert response.status_code == 400, endpoint
            assert response.json["error"] == "invalid_request"
    assert "FORWARDED_ALLOW_IPS" in caplog.text


def access_token(stack) -> str:
    attempt, params = sign_in(stack)
    return redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()[
        "access_token"]


def test_userinfo_accepts_the_access_token_in_a_form_body(oidc_stack):
    response = requests.post(f"{oidc_stack.broker_url}/userinfo", timeout=10,
                             data={"access_token": access_token(oidc_stack)})
    assert response.status_code == 200 and response.json()["given_name"] == "Jane"


def test_userinfo_refuses_a_token_sent_two_ways(oidc_stack):
    token = access_token(oidc_stack)
    response = requests.post(f"{oidc_stack.broker_url}/userinfo", timeout=10,
                             data={"access_token": token},
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_userinfo_errors_use_rfc_6750_codes(oidc_stack):
    missing = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10)
    assert missing.status_code == 401 and missing.json()["error"] == "invalid_request"
    basic = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10,
                         auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET))
    assert basic.status_code == 400 and basic.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in basic.headers["WWW-Authenticate"]
    for response in (missing, basic):
        assert "missing_authorization" not in response.text


def test_an_http_issuer_outside_localhost_is_a_page_and_a_log_line_not_a_500(stack_factory,
                                                                             caplog):
    stack = stack_factory(lambda ports: {"issuer": "http://broker.example.gov.uk"})
    client = stack.broker_app.test_client()
    with caplog.at_level(logging.ERROR, logger="broker.oidc.views"):
        response = client.get("/authorize", query_string={
            "client_id": COUNCIL_CLIENT_ID, "response_type": "code", "scope": "openid",
            "redirect_uri": f"{stack.council_url}/callback", "code_challenge": "c" * 43,
            "code_challenge_method": "S256"})
    assert response.status_code == 503 and "Location" not in response.headers
    assert "use an https issuer" in caplog.text
