"""The plug-in as the provider's relying party: the authentication request, the token request,
the ID token and /userinfo checks, and the answer the journey gets. Every attack is performed."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import RSAKey

from broker.identity import Flow, LevelOfAssurance
from broker.openid_ida.upstream import OpenIdIdaUpstream
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure
from tests.openid_ida.fake import (
    CLIENT_ID,
    ISSUER,
    SUB,
    FakeProvider,
    broker_config,
    client_key,
    ida_config,
)


def flow(minimum=LevelOfAssurance.LEVEL_2) -> Flow:
    return Flow(id="flow-id-0123456789abcdef", client_id="council-app", authorize_params={},
                minimum_level=minimum, created_at=int(time.time()), ui_locale="cy")


@pytest.fixture
def fake():
    provider = FakeProvider()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        provider.register(mock)
        yield provider


@pytest.fixture
def key():
    return client_key()


def sign_in(fake: FakeProvider, upstream: OpenIdIdaUpstream, force_login=False, code="the-code"):
    handed = upstream.hand_off(flow(), force_login=force_login)
    location = handed.response[2]["Location"]
    fake.authorize(location)
    return upstream.answer(handed.flow, {"code": code}), location


def test_a_resident_with_verified_claims_signs_in_at_the_mapped_level(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    answer, _ = sign_in(fake, upstream)

    assert isinstance(answer, UpstreamAnswer), answer
    assert answer.level is LevelOfAssurance.LEVEL_2
    assert (answer.issuer, answer.subject, answer.upstream) == (ISSUER, SUB, "openid_ida")
    assert answer.matching_dataset.current(answer.matching_dataset.surnames).value == "Doe"
    assert answer.auth_time is not None and answer.answer_ids
    identity = answer.identity_for("https://council.example")
    assert identity.hashed_pid != answer.identity_for("https://other.example").hashed_pid


def test_the_authentication_request_is_code_flow_with_pkce_nonce_and_claims(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    handed = upstream.hand_off(flow(), force_login=True)
    query = {k: v[0] for k, v in parse_qs(handed.response[2]["Location"].split("?", 1)[1]).items()}

    assert query["response_type"] == "code" and query["state"] == flow().id
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["nonce"] == handed.flow.openid.nonce
    assert query["redirect_uri"] == "https://broker.test/openid-ida/callback"
    assert query["prompt"] == "login" and query["ui_locales"] == "cy"
    assert '"verified_claims"' in query["claims"]
    assert handed.flow.openid.code_verifier not in handed.response[2]["Location"]


def test_the_token_request_carries_a_private_key_jwt_for_the_token_endpoint(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    sign_in(fake, upstream)

    form = fake.token_requests[0]["form"]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assertion = jwt.decode(form["client_assertion"], RSAKey.import_key(key.as_dict(private=False)))
    claims = assertion.claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == f"{ISSUER}/token" and claims["jti"]
    assert claims["exp"] - claims["iat"] <= 300
    assert "client_secret" not in form


def test_client_secret_basic_sends_the_secret_in_the_authorization_header(fake):
    upstream = OpenIdIdaUpstream(broker_config(ida_config()))
    answer, _ = sign_in(fake, upstream)

    assert isinstance(answer, UpstreamAnswer)
    assert fake.token_requests[0]["headers"]["Authorization"].startswith("Basic ")
    assert "client_assertion" not in fake.token_requests[0]["form"]


def test_the_public_keys_of_private_key_jwt_are_published(key):
    from broker.openid_ida.upstream import public_jwks

    published = public_jwks(ida_config(key))["keys"]
    assert [k["kid"] for k in published] == [key.kid] and "d" not in published[0]


# Times are relative to when the test runs, never to when it was collected (a whole suite takes
# longer than the 600 s these tokens are off by).
@pytest.mark.parametrize("changes, why", [
    (lambda now: {"nonce": "another-flows-nonce"}, "nonce"),
    (lambda now: {"aud": "another-client"}, "aud"),
    (lambda now: {"aud": [CLIENT_ID, "another-client"]}, "azp"),
    (lambda now: {"aud": [CLIENT_ID, "another-client"], "azp": "another-client"}, "azp"),
    (lambda now: {"iss": "https://evil.test"}, "iss"),
    (lambda now: {"exp": now - 120}, "expired"),
    (lambda now: {"iat": now + 600}, "iat"),
    (lambda now: {"sub": None}, "sub"),
    (lambda now: {"nonce": None}, "nonce"),
    (lambda now: {"auth_time": now + 600}, "auth_time"),
])
def test_an_id_token_that_fails_a_check_is_rejected(fake, key, changes, why):
    fake.id_token_changes = changes(int(time.time()))
    answer, _ = sign_in(fake, OpenIdIdaUpstream(broker_config(ida_config(key))))

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED
    assert "ID token" in answer.detail


def test_an_id_token_signed_by_a_key_the_provider_does_not_publish_is_rejected(fake, key):
    fake.signing_key = RSAKey.generate_key(2048, auto_kid=True)
    answer, _ = sign_in(fake, OpenIdIdaUpstream(broker_config(ida_config(key))))

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED


def test_an_unsigned_id_token_is_rejected(fake, key, monkeypatch):
    import base64
    import json

    def unsigned():
        def part(data):
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        now = int(time.time())
        return f"{part({'alg': 'none'})}.{part({'iss': ISSUER, 'sub': SUB, 'aud': CLIENT_ID, 'nonce': fake.nonce, 'iat': now, 'exp': now + 60})}."  # noqa: E501
    monkeypatch.setattr(fake, "id_token", unsigned)
    answer, _ = sign_in(fake, OpenIdIdaUpstream(broker_config(ida_config(key))))

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED


def test_a_rotated_provider_key_is_fetched_once(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    upstream.provider.current()
    fake.key = RSAKey.generate_key(2048, auto_kid=True)  # the provider rotates
    answer, _ = sign_in(fake, upstream)

    assert isinstance(answer, UpstreamAnswer)


def test_a_sign_in_that_missed_another_ones_refetch_uses_it_instead_of_being_refused(fake, key):
    """Two sign-ins hold the documents from before the rotation; the first refetches, and the
    second, within the once-a-minute limit, goes on with that copy rather than failing (as One
    Login's did already: one shared broker.upstreams.published_documents now)."""
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    before = upstream.provider.current()
    fake.key = RSAKey.generate_key(2048, auto_kid=True)
    fresh = upstream.provider.refetch_for_unknown_key(before)
    assert fresh is not None and fresh is not before
    assert upstream.provider.refetch_for_unknown_key(before) is fresh
    assert upstream.provider.refetch_for_unknown_key(fresh) is None  # the limit still holds


def test_userinfo_about_another_user_is_rejected(fake, key):
    fake.userinfo_changes = {"sub": "someone-else"}
    answer, _ = sign_in(fake, OpenIdIdaUpstream(broker_config(ida_config(key))))

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED
    assert "another user" in answer.detail


def test_a_wrong_code_verifier_gets_no_tokens(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    handed = upstream.hand_off(flow(), force_login=False)
    fake.authorize(handed.response[2]["Location"])
    spoiled = handed.flow.openid.__class__(nonce=handed.flow.openid.nonce, code_verifier="x" * 50)
    answer = upstream.answer(handed.flow.__class__(**{**handed.flow.__dict__, "openid": spoiled}),
                             {"code": "the-code"})

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED


def test_a_token_endpoint_error_is_unavailable(fake, key):
    fake.token_status = 503
    answer, _ = sign_in(fake, OpenIdIdaUpstream(broker_config(ida_config(key))))

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.UNAVAILABLE


def test_an_unreachable_provider_is_unavailable_at_the_hand_off(key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    with responses.RequestsMock():  # nothing registered: every request fails
        with pytest.raises(UpstreamFailure) as failure:
            upstream.hand_off(flow(), force_login=False)
    assert failure.value.kind is FailureKind.UNAVAILABLE


def test_a_level_no_rule_reaches_is_not_proven_at_the_hand_off(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    with pytest.raises(UpstreamFailure) as failure:
        upstream.hand_off(flow(LevelOfAssurance.LEVEL_3), force_login=False)
    assert failure.value.kind is FailureKind.NOT_PROVEN


def test_no_verified_claims_is_an_identity_not_proven(fake, key):
    fake.verified_claims = None
    answer, _ = sign_in(fake, OpenIdIdaUpstream(broker_config(ida_config(key))))

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.NOT_PROVEN


def test_verified_claims_in_the_id_token_only_count_when_asked_for_there(fake, key):
    fake.verified_claims = None
    fake.id_token_changes = {"verified_claims": {
        "verification": {"trust_framework": "uk_tfida", "assurance_level": "medium"},
        "claims": {"family_name": "Doe"}}}
    from_userinfo = OpenIdIdaUpstream(broker_config(ida_config(key)))
    from_id_token = OpenIdIdaUpstream(broker_config(ida_config(key, verified_claims_in="id_token")))

    assert sign_in(fake, from_userinfo)[0].kind is FailureKind.NOT_PROVEN
    assert isinstance(sign_in(fake, from_id_token)[0], UpstreamAnswer)


@pytest.mark.parametrize("error, kind", [
    ("access_denied", FailureKind.CANCELLED),
    ("login_required", FailureKind.LOGIN_REQUIRED),
    ("temporarily_unavailable", FailureKind.UNAVAILABLE),
    ("invalid_scope", FailureKind.UNAVAILABLE),
    ("fraud_detected", FailureKind.FRAUD),
])
def test_authorization_errors_are_failure_kinds_standard_or_configured(key, error, kind):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(
        key, errors=(("fraud_detected", "fraud"),))))
    failure = upstream.answer(flow(), {"error": error})

    assert isinstance(failure, UpstreamFailure) and failure.kind is kind


def test_a_code_without_the_flows_request_is_rejected(key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    failure = upstream.answer(flow(), {"code": "a-code"})  # the flow was never handed off here

    assert failure.kind is FailureKind.REJECTED


def test_a_code_from_another_issuer_is_never_redeemed(fake, key):
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    handed = upstream.hand_off(flow(), force_login=False)
    fake.authorize(handed.response[2]["Location"])
    answer = upstream.answer(handed.flow, {"code": "the-code", "iss": "https://evil.test"})

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED
    assert fake.token_requests == []


def test_a_provider_that_promises_iss_must_send_it(fake, key):
    fake.discovery = {"authorization_response_iss_parameter_supported": True}
    upstream = OpenIdIdaUpstream(broker_config(ida_config(key)))
    handed = upstream.hand_off(flow(), force_login=False)
    fake.authorize(handed.response[2]["Location"])

    missing = upstream.answer(handed.flow, {"code": "the-code"})
    assert isinstance(missing, UpstreamFailure) and missing.kind is FailureKind.REJECTED
    assert isinstance(upstream.answer(handed.flow, {"code": "the-code", "iss": ISSUER}),
                      UpstreamAnswer)
