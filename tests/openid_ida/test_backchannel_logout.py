"""Back-channel logout from the OIDC4IDA provider: a verified logout_token ends the resident's
broker session; every other one is refused and ends nothing."""

from __future__ import annotations

import secrets
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from broker.upstreams.logout_token import BACKCHANNEL_EVENT
from tests.oidc_client import authorize
from tests.openid_ida.conftest import IDA_CLIENT_ID
from tests.openid_ida.test_signin_through_openid_ida import sign_in_for_code


def logout_token(stack, key: RSAKey | None = None, **changes) -> str:
    key = key or stack.stub.id_token_key
    claims = {"iss": stack.stub.issuer, "aud": IDA_CLIENT_ID, "sub": "stub-ida-jane",
              "iat": int(time.time()), "jti": secrets.token_urlsafe(12),
              "events": {BACKCHANNEL_EVENT: {}}, **changes}
    return jwt.encode({"alg": "RS256", "kid": key.kid},
                      {k: v for k, v in claims.items() if v is not None}, key)


def post(stack, token: str) -> requests.Response:
    return requests.post(f"{stack.broker_url}/openid-ida/backchannel-logout",
                         data={"logout_token": token}, timeout=10)


def signed_in_browser(stack) -> requests.Session:
    browser = requests.Session()
    sign_in_for_code(stack, browser)
    return browser


def still_signed_in(stack, browser: requests.Session) -> bool:
    """The broker session answers a new /authorize itself (single sign-on) rather than sending
    the resident to the provider."""
    again = authorize(stack, session=browser)
    return again.response.headers["Location"].startswith(stack.council_url)


def test_the_providers_logout_ends_the_broker_session(ida_stack):
    browser = signed_in_browser(ida_stack)
    assert still_signed_in(ida_stack, browser)

    assert post(ida_stack, logout_token(ida_stack)).status_code == 200
    assert not still_signed_in(ida_stack, browser)


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda s: logout_token(s, key=RSAKey.generate_key(2048, auto_kid=True)),
                 id="wrongly-signed"),
    pytest.param(lambda s: logout_token(s, aud="another-client"), id="wrong-aud"),
    pytest.param(lambda s: logout_token(s, iss="https://evil.example"), id="wrong-iss"),
    pytest.param(lambda s: logout_token(s, nonce="n"), id="with-nonce"),
    pytest.param(lambda s: logout_token(s, events=None), id="not-a-logout-event"),
    pytest.param(lambda s: logout_token(s, iat=int(time.time()) - 3600), id="too-old"),
])
def test_a_bad_logout_token_is_refused_and_ends_nothing(ida_stack, spoil):
    browser = signed_in_browser(ida_stack)
    response = post(ida_stack, spoil(ida_stack))

    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert still_signed_in(ida_stack, browser)


def test_a_replayed_logout_token_is_refused(ida_stack):
    token = logout_token(ida_stack, sub="stub-ida-nobody")
    assert post(ida_stack, token).status_code == 200
    assert post(ida_stack, token).status_code == 400


def test_another_residents_logout_leaves_this_session(ida_stack):
    browser = signed_in_browser(ida_stack)
    assert post(ida_stack, logout_token(ida_stack, sub="stub-ida-sam")).status_code == 200
    assert still_signed_in(ida_stack, browser)
