"""Back-channel logout from One Login: a verified logout_token ends the resident's broker
sessions as the broker's own logout does (tokens revoked, unredeemed codes refused, council apps
notified); anything else is refused with `invalid_request`."""

from __future__ import annotations

import re
import secrets
import time

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import ECKey

from broker.devtools.stub_onelogin.identities import IDENTITIES
from tests.oidc_client import authorize, query, redeem
from tests.one_login.conftest import ONE_LOGIN_CLIENT_ID, sign_in_for_code

EVENT = "http://schemas.openid.net/event/backchannel-logout"
COUNCIL_BCL = "https://council-app.example.gov.uk/bcl"


@pytest.fixture
def stack(one_login_stack_factory):
    return one_login_stack_factory(lambda ports: {
        "clients": [{"client_id": "council-app", "council": "test-borough", "name": "Test",
                     "client_secret": "council-app-secret",
                     "redirect_uris": [f"{ports.url('council')}/callback"],
                     "scopes": ["openid", "profile", "address"],
                     "backchannel_logout_uri": COUNCIL_BCL}]})


def logout_token(stack, key: ECKey | None = None, **changes) -> str:
    now = int(time.time())
    claims = {"iss": stack.stub.issuer, "aud": ONE_LOGIN_CLIENT_ID, "iat": now, "exp": now + 120,
              "jti": secrets.token_urlsafe(12), "sub": IDENTITIES["jane"].sub,
              "events": {EVENT: {}}}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    key = key or stack.stub.id_token_key
    return jwt.encode({"alg": "ES256", "kid": stack.stub.id_token_key.kid, "typ": "logout+jwt"},
                      claims, key, algorithms=["ES256"])


def post(stack, token: str) -> requests.Response:
    return requests.post(f"{stack.broker_url}/onelogin/backchannel-logout",
                         data={"logout_token": token}, timeout=10)


def test_one_login_logout_ends_the_broker_session_and_tells_the_council_app(stack):
    browser = requests.Session()
    sign_in_for_code(stack, "jane", session=browser)
    reused = authorize(stack, session=browser)  # the broker session answers without One Login
    assert not reused.response.headers["Location"].startswith(stack.stub.base_url)
    with responses.RequestsMock() as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        council = mock.post(COUNCIL_BCL, status=200)
        assert post(stack, logout_token(stack)).status_code == 200
    assert council.call_count == 1
    again = authorize(stack, session=browser)
    assert again.response.headers["Location"].startswith(stack.stub.base_url)


def logged_out_at_one_login(stack, sub: str = IDENTITIES["jane"].sub) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        mock.post(COUNCIL_BCL, status=200)
        assert post(stack, logout_token(stack, sub=sub)).status_code == 200


def test_one_login_logout_revokes_the_sessions_tokens_and_unredeemed_codes(stack):
    browser = requests.Session()
    first, first_params = sign_in_for_code(stack, "jane", session=browser)
    token = redeem(stack, first_params["code"], first.verifier, first.redirect_uri).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{stack.broker_url}/userinfo", headers=bearer, timeout=10).ok
    second = authorize(stack, session=browser)  # single sign-on: a code the app has not redeemed
    unredeemed = query(second.response.headers["Location"])["code"]
    logged_out_at_one_login(stack)
    refused = requests.get(f"{stack.broker_url}/userinfo", headers=bearer, timeout=10)
    assert refused.status_code == 401
    late = redeem(stack, unredeemed, second.verifier, second.redirect_uri)
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"


def test_a_renewed_session_is_ended_too(stack):
    """A fresh One Login sign-in of the same resident renews the session under a new id."""
    browser = requests.Session()
    sign_in_for_code(stack, "jane", session=browser)
    before = browser.cookies.get("broker_session")
    sign_in_for_code(stack, "jane", session=browser, prompt="login")
    assert browser.cookies.get("broker_session") not in (None, before)
    logged_out_at_one_login(stack)
    assert authorize(stack, session=browser).response.headers["Location"].startswith(
        stack.stub.base_url)


def test_the_logout_index_gives_nothing_to_present_as_a_session(stack):
    browser = requests.Session()
    sign_in_for_code(stack, "jane", session=browser)
    session_id = browser.cookies.get("broker_session")
    found = []
    for key in stack.redis.scan_iter(f"{stack.prefix}*"):
        found.append(key.decode())
        if stack.redis.type(key) == b"set":
            found.extend(m.decode() for m in stack.redis.smembers(key))
        elif stack.redis.type(key) == b"string":
            found.append(stack.redis.get(key).decode("latin-1"))
    assert any(name.startswith(f"{stack.prefix}upstream-sessions:") for name in found)
    assert not any(session_id in item for item in found)
    assert not any(IDENTITIES["jane"].sub in item for item in found)


def test_another_residents_logout_leaves_this_session(stack):
    browser = requests.Session()
    sign_in_for_code(stack, "jane", session=browser)
    assert post(stack, logout_token(stack, sub=IDENTITIES["sam"].sub)).status_code == 200
    reused = authorize(stack, session=browser)
    assert not reused.response.headers["Location"].startswith(stack.stub.base_url)


@pytest.mark.parametrize("token", [
    pytest.param(lambda s: logout_token(s, key=ECKey.generate_key("P-256")), id="wrongly-signed"),
    pytest.param(lambda s: logout_token(s, aud="another-client"), id="wrong-aud"),
    pytest.param(lambda s: logout_token(s, iss="https://evil.example/"), id="wrong-iss"),
    pytest.param(lambda s: logout_token(s, nonce="n"), id="with-nonce"),
    pytest.param(lambda s: logout_token(s, events={"other": {}}), id="not-a-logout-event"),
    pytest.param(lambda s: logout_token(s, iat=int(time.time()) - 3600), id="too-old"),
    pytest.param(lambda s: logout_token(s, sub=None), id="no-sub"),
    pytest.param(lambda s: "not-a-jwt", id="garbage"),
])
def test_a_bad_logout_token_is_refused_and_ends_nothing(stack, token):
    browser = requests.Session()
    sign_in_for_code(stack, "jane", session=browser)
    answer = post(stack, token(stack))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    reused = authorize(stack, session=browser)
    assert not reused.response.headers["Location"].startswith(stack.stub.base_url)


def test_a_replayed_logout_token_is_refused(stack):
    token = logout_token(stack)
    assert post(stack, token).status_code == 200
    assert post(stack, token).status_code == 400


def test_the_first_logout_after_one_login_rotates_its_signing_key_is_believed(stack):
    """The broker holds One Login's keys from the sign-in; One Login then signs with a new key:
    the broker fetches its documents again once, as it does for an ID token (issue 24 item 9),
    instead of refusing the logout and leaving the resident signed in."""
    browser = requests.Session()
    sign_in_for_code(stack, "jane", session=browser)
    # One Login rotates: the stub (a frozen config its app reads per request) serves the new key
    object.__setattr__(stack.stub, "id_token_key", ECKey.generate_key("P-256", auto_kid=True))
    logged_out_at_one_login(stack)
    again = authorize(stack, session=browser)
    assert again.response.headers["Location"].startswith(stack.stub.base_url)
