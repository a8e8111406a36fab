"""/token's storage (issue 27, ADR 0024): the access token is made with its code, so redeeming
the code asks Redis once; what a refused, replayed or logged-out code leaves behind; and the
token's lifetime as `expires_in` states it."""

from __future__ import annotations

import time

import lxml.html
import requests

from broker.observability import REDIS_ROUND_TRIPS
from tests.oidc.conftest import SAME_COUNCIL_CLIENT, SECRET
from tests.oidc_client import redeem, sign_in


def tokens_in_redis(stack) -> list:
    return list(stack.redis.scan_iter(f"{stack.prefix}token:*"))


def userinfo_status(stack, access_token: str) -> int:
    return requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_a_successful_token_request_makes_one_redis_round_trip(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    redeem(oidc_stack, "warm-up", attempt.verifier, attempt.redirect_uri)  # connections made
    before = REDIS_ROUND_TRIPS._value.get()
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert response.status_code == 200, response.text
    assert REDIS_ROUND_TRIPS._value.get() - before == 1
    assert userinfo_status(oidc_stack, response.json()["access_token"]) == 200


def test_a_replayed_code_still_revokes_the_token_its_first_use_obtained(oidc_stack):
    attempt, params = sign_in(oidc_stack)
    first = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    replay = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert replay.json()["error"] == "invalid_grant"
    assert userinfo_status(oidc_stack, first["access_token"]) == 401
    assert tokens_in_redis(oidc_stack) == []


def test_logout_before_redemption_refuses_the_code_and_leaves_no_token(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    attempt, params = sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)  # single sign-on
    assert len(tokens_in_redis(oidc_stack)) == 2  # made with the codes, known to nobody yet
    page = browser.get(f"{oidc_stack.broker_url}/logout", timeout=10)
    form = lxml.html.fromstring(page.text).xpath('//form[@id="logout-confirm"]')[0]
    signed_out = browser.post(f"{oidc_stack.broker_url}/logout", timeout=10, data={
        i.get("name"): i.get("value") for i in form.xpath(".//input")})
    assert signed_out.ok
    assert tokens_in_redis(oidc_stack) == []  # both went with the session
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                      auth=(SAME_COUNCIL_CLIENT, SECRET))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_code_refused_after_it_was_taken_leaves_no_token_behind(oidc_stack):
    """Another client's credentials, a wrong PKCE verifier or another redirect_uri: the code is
    used up and the token made with it deleted."""
    for refused in (
        lambda a, p: redeem(oidc_stack, p["code"], a.verifier, a.redirect_uri,
                            auth=(SAME_COUNCIL_CLIENT, SECRET)),
        lambda a, p: redeem(oidc_stack, p["code"], a.verifier + "x", a.redirect_uri),
        lambda a, p: redeem(oidc_stack, p["code"], a.verifier, a.redirect_uri + "x"),
    ):
        attempt, params = sign_in(oidc_stack)
        assert len(tokens_in_redis(oidc_stack)) == 1  # made with the code, known to nobody yet
        assert refused(attempt, params).json()["error"] in ("invalid_grant", "invalid_request")
        assert tokens_in_redis(oidc_stack) == []
        second = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri)
        assert second.json()["error"] == "invalid_grant"


def test_expires_in_is_what_is_left_of_the_token_and_at_least_its_configured_lifetime(oidc_stack):
    oidc = oidc_stack.config.oidc
    attempt, params = sign_in(oidc_stack)
    issued = time.time()
    time.sleep(1.1)  # the token's life started when the code was issued
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    lifetime = oidc.code_ttl_seconds + oidc.access_token_ttl_seconds
    assert oidc.access_token_ttl_seconds <= token["expires_in"] < lifetime
    assert token["expires_in"] <= issued + lifetime - time.time() + 1
    [key] = tokens_in_redis(oidc_stack)
    assert token["expires_in"] <= oidc_stack.redis.ttl(key) <= lifetime
