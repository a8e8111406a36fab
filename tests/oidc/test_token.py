"""/token: client authentication, single-use codes, and what the ID token carries."""

from __future__ import annotations

import re
import time

import jwt
import requests
import responses

from tests.oidc.conftest import JWT_CLIENT, REMOTE_JWKS_CLIENT, REMOTE_JWKS_URI, RS256_CLIENT, SECRET
from tests.oidc_client import (
    client_assertion,
    redeem,
    redeem_with_assertion,
    sign_in,
    validate_id_token,
)


def userinfo_status(stack, access_token: str) -> int:
    return requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_id_token_carries_every_required_claim(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    claims = validate_id_token(oidc_stack, token["id_token"], attempt.nonce)
    for name in ("iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                 "at_hash", "sid"):
        assert name in claims, name
    assert claims["amr"] == ["mfa"]
    header = jwt.get_unverified_header(token["id_token"])
    assert header["alg"] == "ES256"


def test_codes_and_access_tokens_are_at_least_256_random_bits(oidc_stack):
    codes, tokens = set(), set()
    for _ in range(3):
        attempt, params = sign_in(oidc_stack)
        token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
        codes.add(params["code"])
        tokens.add(token["access_token"])
    for value in codes | tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", value), value  # base64url of >= 32 bytes
    assert len(codes) == len(tokens) == 3


def test_a_second_use_of_a_code_fails_and_revokes_the_first_access_token(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    first = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    assert userinfo_status(oidc_stack, first["access_token"]) == 200
    second = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert second.json()["error"] == "invalid_grant"
    assert userinfo_status(oidc_stack, first["access_token"]) == 401


def test_an_expired_code_is_refused(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    for key in oidc_stack.redis.scan_iter(f"{oidc_stack.prefix}code:*"):
        oidc_stack.redis.delete(key)  # what its 60 s TTL does
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert response.json()["error"] == "invalid_grant"


def test_codes_live_at_most_sixty_seconds(oidc_stack):
    sign_in(oidc_stack)
    keys = list(oidc_stack.redis.scan_iter(f"{oidc_stack.prefix}code:*"))
    assert keys and all(0 < oidc_stack.redis.ttl(k) <= 60 for k in keys)


def test_a_code_cannot_be_redeemed_by_another_client(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                      auth=(RS256_CLIENT, SECRET))
    assert response.json()["error"] == "invalid_grant"


def test_redirect_uri_must_match_the_authorization_request(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri + "x")
    assert response.json()["error"] == "invalid_grant"


def test_rs256_is_used_for_a_client_configured_for_it(oidc_stack):
    attempt, params = sign_in(oidc_stack, client_id=RS256_CLIENT)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                   auth=(RS256_CLIENT, SECRET)).json()
    assert jwt.get_unverified_header(token["id_token"])["alg"] == "RS256"
    key = jwt.PyJWKClient(f"{oidc_stack.broker_url}/.well-known/jwks.json"
                          ).get_signing_key_from_jwt(token["id_token"])
    jwt.decode(token["id_token"], key.key, algorithms=["RS256"], audience=RS256_CLIENT)


def test_private_key_jwt_authenticates_a_client(oidc_stack, oidc_keys):
    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    assertion = client_assertion(oidc_stack, JWT_CLIENT, oidc_keys["client_key"])
    response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                     attempt.redirect_uri, assertion)
    assert response.status_code == 200, response.text
    assert "id_token" in response.json()


def test_private_key_jwt_accepts_the_issuer_as_audience(oidc_stack, oidc_keys):
    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    assertion = client_assertion(oidc_stack, JWT_CLIENT, oidc_keys["client_key"],
                                 audience=oidc_stack.broker_url)
    assert redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                 attempt.redirect_uri, assertion).status_code == 200


def test_a_replayed_client_assertion_is_refused(oidc_stack, oidc_keys):
    assertion = client_assertion(oidc_stack, JWT_CLIENT, oidc_keys["client_key"])
    first_attempt, first = sign_in(oidc_stack, client_id=JWT_CLIENT)
    assert redeem_with_assertion(oidc_stack, first["code"], first_attempt.verifier,
                                 first_attempt.redirect_uri, assertion).status_code == 200
    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                     attempt.redirect_uri, assertion)
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_a_client_assertion_for_another_audience_is_refused(oidc_stack, oidc_keys):
    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    assertion = client_assertion(oidc_stack, JWT_CLIENT, oidc_keys["client_key"],
                                 audience="https://elsewhere.example/token")
    response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                     attempt.redirect_uri, assertion)
    assert response.json()["error"] == "invalid_client"


def test_a_client_assertion_expiring_beyond_the_maximum_lifetime_is_refused(oidc_stack,
                                                                             oidc_keys):
    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    assertion = client_assertion(oidc_stack, JWT_CLIENT, oidc_keys["client_key"],
                                 exp=int(time.time()) + 3600 + 300)
    response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                     attempt.redirect_uri, assertion)
    assert response.json()["error"] == "invalid_client"


def test_a_client_assertion_signed_by_another_key_is_refused(oidc_stack):
    from joserfc.jwk import ECKey

    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    assertion = client_assertion(oidc_stack, JWT_CLIENT, ECKey.generate_key("P-256", auto_kid=True))
    response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                     attempt.redirect_uri, assertion)
    assert response.json()["error"] == "invalid_client"


def test_a_secret_is_refused_for_a_private_key_jwt_client(oidc_stack):
    attempt, params = sign_in(oidc_stack, client_id=JWT_CLIENT)
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                      auth=(JWT_CLIENT, "anything"))
    assert response.json()["error"] == "invalid_client"


@responses.activate
def test_private_key_jwt_keys_are_fetched_from_the_jwks_uri_and_cached(oidc_stack, oidc_keys):
    responses.add_passthru(re.compile(r"http://127\.0\.0\.1"))
    responses.get(REMOTE_JWKS_URI, json={"keys": [oidc_keys["client_key"].as_dict(private=False)]})
    for _ in range(2):
        attempt, params = sign_in(oidc_stack, client_id=REMOTE_JWKS_CLIENT)
        assertion = client_assertion(oidc_stack, REMOTE_JWKS_CLIENT, oidc_keys["client_key"])
        response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                         attempt.redirect_uri, assertion)
        assert response.status_code == 200, response.text
    assert len([c for c in responses.calls if c.request.url == REMOTE_JWKS_URI]) == 1


@responses.activate
def test_an_unreachable_jwks_uri_is_invalid_client_not_a_500(oidc_stack, oidc_keys):
    import requests as requests_lib

    responses.add_passthru(re.compile(r"http://127\.0\.0\.1"))
    responses.get(REMOTE_JWKS_URI, body=requests_lib.ConnectionError("down"))
    attempt, params = sign_in(oidc_stack, client_id=REMOTE_JWKS_CLIENT)
    assertion = client_assertion(oidc_stack, REMOTE_JWKS_CLIENT, oidc_keys["client_key"])
    response = redeem_with_assertion(oidc_stack, params["code"], attempt.verifier,
                                     attempt.redirect_uri, assertion)
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_userinfo_accepts_post(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    response = requests.post(f"{oidc_stack.broker_url}/userinfo", timeout=10,
                             headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 200 and response.json()["given_name"] == "Jane"


def test_userinfo_without_a_token_says_how_to_authenticate(oidc_stack):
    response = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="{oidc_stack.broker_url}"'


def test_userinfo_with_an_unknown_token_names_the_error(oidc_stack):
    response = requests.get(f"{oidc_stack.broker_url}/userinfo", timeout=10,
                            headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
