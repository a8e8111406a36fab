"""Hostile answers from "One Login" (a fake one, through `responses`) reach the running broker's
redirect URI; each is refused with a clear page and a standard error for the council app."""

from __future__ import annotations

import time

import pytest
import requests
import responses
from joserfc import jwt
from joserfc.jwk import ECKey

from broker.identity import LevelOfAssurance
from tests.forms import link
from tests.oidc_client import authorize, query, shown_page
from tests.one_login.fake import (
    CLIENT_ID,
    DID,
    DID_URL,
    IDENTITY_ISSUER,
    ISSUER,
    FakeOneLogin,
    claims_of,
    unsigned_jwt,
)


@pytest.fixture
def mocked_stack(stack_factory, keys_dir):
    def changes(ports):
        return {"upstream": {"kind": "one_login"},
                "one_login": {"discovery_url": f"{ISSUER}.well-known/openid-configuration",
                              "client_id": CLIENT_ID,
                              "signing_keys": [{"file": str(keys_dir / "broker-onelogin-client.jwk.json")}],
                              "identity_issuer": IDENTITY_ISSUER, "did_url": DID_URL}}

    return stack_factory(changes)


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        one_login = FakeOneLogin()
        one_login.register(mock)
        one_login.mock = mock
        yield one_login


def answer(stack, fake, core_identity=None, id_token=None, **authorize_params):
    """Starts a sign-in, lets "One Login" answer it, and returns the broker's page."""
    session = requests.Session()
    attempt = authorize(stack, session=session,
                        **{"acr_values": LevelOfAssurance.LEVEL_2.uri, **authorize_params})
    asked = query(attempt.response.headers["Location"])
    fake.answer(fake.mock, id_token(fake, asked["nonce"]) if id_token else fake.id_token(
        asked["nonce"]), fake.userinfo(core_identity(fake) if core_identity else None))
    return shown_page(session, session.get(f"{stack.broker_url}/onelogin/callback",
                                           params={"code": "code-1", "state": asked["state"]},
                                           allow_redirects=False, timeout=10))


def continue_error(page: requests.Response) -> str:
    return query(link(page, "continue")).get("error", "")


def test_a_good_answer_completes_the_sign_in(mocked_stack, fake):
    page = answer(mocked_stack, fake)
    assert page.status_code == 302
    assert "code" in query(page.headers["Location"])


@pytest.mark.parametrize("core_identity", [
    pytest.param(lambda f: unsigned_jwt({"alg": "none", "kid": f.identity_kid},
                                        claims_of(f.core_identity())), id="unsigned"),
    pytest.param(lambda f: f.core_identity(key=ECKey.generate_key("P-256")), id="wrongly-signed"),
    pytest.param(lambda f: f.core_identity(sub="urn:fdc:gov.uk:2022:someone-else"), id="sub-mismatch"),
    pytest.param(lambda f: f.core_identity(aud="another-client"), id="wrong-aud"),
    pytest.param(lambda f: f.core_identity(exp=1_600_000_000), id="expired"),
    pytest.param(lambda f: f.core_identity(kid=f"{DID}#not-published"), id="key-not-in-did"),
])
def test_a_bad_core_identity_jwt_ends_on_the_rejected_page(mocked_stack, fake, core_identity):
    page = answer(mocked_stack, fake, core_identity=core_identity)
    assert page.status_code == 400
    assert 'data-page="rejected"' in page.text
    assert continue_error(page) == "access_denied"


def test_an_id_token_for_another_flow_ends_on_the_rejected_page(mocked_stack, fake):
    page = answer(mocked_stack, fake, id_token=lambda f, nonce: f.id_token("another-flow"))
    assert 'data-page="rejected"' in page.text


def test_vot_below_the_councils_minimum_ends_on_the_level_page(mocked_stack, fake):
    page = answer(mocked_stack, fake, core_identity=lambda f: f.core_identity(vot="P1"))
    assert 'data-page="level-not-met"' in page.text
    assert continue_error(page) == "access_denied"


def test_a_did_document_that_does_not_verify_stops_the_sign_in_before_one_login(mocked_stack,
                                                                                  fake):
    fake.did_document = {**fake.default_did_document(), "id": "did:web:evil.example"}
    attempt = authorize(mocked_stack)
    assert 'data-page="unavailable"' in attempt.response.text
    assert continue_error(attempt.response) == "temporarily_unavailable"
    report = requests.get(f"{mocked_stack.broker_url}/readyz", timeout=10).json()
    assert report["checks"]["one_login"]["ok"] is False
    assert "did:web:evil.example" in report["checks"]["one_login"]["last_error"]


def test_a_one_login_flow_presented_at_the_saml_acs_is_refused(mocked_stack, fake):
    """The flow id travels to One Login as `state`; posted as a hub RelayState it is no flow
    (here the broker has no hub at all; tests/journey/test_upstream_per_council.py has both)."""
    session = requests.Session()
    attempt = authorize(mocked_stack, session=session)
    state = query(attempt.response.headers["Location"])["state"]
    page = session.post(f"{mocked_stack.broker_url}/saml/acs",
                        data={"RelayState": state, "SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4="},
                        allow_redirects=False, timeout=10)
    assert page.status_code == 404 and "Location" not in page.headers
    assert "broker_session" not in session.cookies


DAY = 24 * 3600


@pytest.mark.parametrize("fresh_authentication", [
    pytest.param({"max_age": "60"}, id="max_age=60"),
    pytest.param({"prompt": "login"}, id="prompt=login"),
])
def test_an_authentication_a_day_old_is_refused_when_the_council_asked_for_a_fresh_one(
        mocked_stack, fake, fresh_authentication):
    """Issue 24 item 7: the same `max_age` and `prompt=login` checks as the SAML path's
    AuthnInstant, run once for every upstream."""
    page = answer(mocked_stack, fake, **fresh_authentication,
                  id_token=lambda f, nonce: f.id_token(nonce, auth_time=int(time.time()) - DAY))
    assert page.status_code == 400 and "Location" not in page.headers
    assert 'data-page="rejected"' in page.text
    assert continue_error(page) == "access_denied"


def test_an_answer_without_auth_time_is_refused_when_the_council_set_max_age(mocked_stack, fake):
    def without_auth_time(f, nonce):
        claims = claims_of(f.id_token(nonce))
        del claims["auth_time"]
        return jwt.encode({"alg": "ES256", "kid": f.id_token_key.kid}, claims, f.id_token_key)

    page = answer(mocked_stack, fake, max_age="600", id_token=without_auth_time)
    assert 'data-page="rejected"' in page.text
