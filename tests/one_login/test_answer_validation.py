"""One Login's answer, checked by the broker's One Login client against a fake One Login
(`responses`): what makes a verified identity, and every way an answer is refused."""

from __future__ import annotations

import json
from datetime import date

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from broker.codec import encode
from broker.config import OneLoginConfig, SigningKeyConfig
from broker.identity import Flow, LevelOfAssurance
from broker.one_login.callback import AnswerRejected, ExpectedAnswer, OneLoginClient
from broker.one_login.client_auth import public_jwks
from broker.one_login.provider import OneLoginProvider, OneLoginUnavailable
from broker.pairwise import hash_pid
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure
from broker.upstreams.neutral_checks import check_answer
from tests.one_login.fake import (
    ADDRESS,
    CLIENT_ID,
    CORE_IDENTITY,
    DID,
    DID_URL,
    IDENTITY_ISSUER,
    ISSUER,
    RETURN_CODE,
    SUB,
    FakeOneLogin,
    claims_of,
    unsigned_jwt,
)

COUNCIL = "https://test-borough.example.gov.uk"
NONCE = "flow-nonce-0001"
EXPECTED = ExpectedAnswer(NONCE, "https://broker.test/onelogin/callback")


def one_login_config(alg: str = "RS256") -> OneLoginConfig:
    key = RSAKey.generate_key(2048, auto_kid=True, private=True)
    return OneLoginConfig(
        discovery_url=f"{ISSUER}.well-known/openid-configuration", client_id=CLIENT_ID,
        signing_keys=(SigningKeyConfig(key.as_dict(private=True), True),),
        identity_issuer=IDENTITY_ISSUER, did_url=DID_URL, client_assertion_alg=alg)


WHY = {
    "unsigned": "UnsupportedAlgorithm", "wrongly-signed": "BadSignature",
    "sub-mismatch": "another user", "wrong-aud": "another client", "wrong-iss": "identity service",
    "expired": "expired", "not-yet-valid": "not valid yet", "vot-not-a-level": "level of confidence",
    "key-not-in-did": "DID document", "key-of-another-did": "DID document",
    "no-subject": "credentialSubject",
    "id-token-wrong-nonce": "nonce", "id-token-wrong-aud": "another client",
    "id-token-wrong-iss": "not from One Login", "id-token-expired": "expired",
    "id-token-issued-in-the-future": "future", "id-token-low-authentication": "medium-level",
    "id-token-wrongly-signed": "BadSignature", "id-token-unsigned": "UnsupportedAlgorithm",
}


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        one_login = FakeOneLogin()
        one_login.register(mock)
        one_login.mock = mock
        yield one_login


@pytest.fixture
def config() -> OneLoginConfig:
    return one_login_config()


def redeem(fake, config, id_token=None, userinfo=None, expected=EXPECTED):
    fake.answer(fake.mock, id_token or fake.id_token(NONCE),
                userinfo if userinfo is not None else fake.userinfo())
    result = OneLoginClient(config, OneLoginProvider(config)).redeem("code-1", expected)
    return result.identity_for(COUNCIL) if isinstance(result, UpstreamAnswer) else result


def answer_of(fake, config, userinfo) -> UpstreamAnswer:
    fake.answer(fake.mock, fake.id_token(NONCE), userinfo)
    return OneLoginClient(config, OneLoginProvider(config)).redeem("code-1", EXPECTED)


def test_a_valid_answer_becomes_a_verified_identity(fake, config):
    identity = redeem(fake, config)
    assert identity.level_of_assurance is LevelOfAssurance.LEVEL_2
    dataset = identity.matching_dataset
    assert [(v.value, v.valid_to) for v in dataset.surnames] == [
        ("Smith", date(2010, 6, 30)), ("Doe", None)]
    assert dataset.current(dataset.surnames).value == "Doe"
    assert dataset.current(dataset.first_names).value == "Jane"
    assert dataset.current(dataset.middle_names).value == "Ann"
    assert [v.value for v in dataset.dates_of_birth] == ["1980-05-01"]
    current, = dataset.current_addresses
    assert current.lines == ("1 COUNCIL STREET", "BOROUGH")
    assert (current.post_code, current.uprn, current.verified) == ("AB1 2CD", "100023336956", True)
    previous, = dataset.previous_addresses
    assert previous.lines == ("OLD HOUSE", "OLD ROAD", "OLDTOWN")
    assert previous.valid_to == date(2015, 5, 31)
    assert all(v.verified for v in (*dataset.first_names, *dataset.surnames))


def test_the_subject_is_hashed_per_council_like_verifys_pid(fake, config):
    identity = redeem(fake, config)
    assert identity.hashed_pid == hash_pid(ISSUER, COUNCIL, SUB, LevelOfAssurance.LEVEL_2)
    assert identity.persistent_id == SUB and identity.issuer == ISSUER
    assert SUB not in identity.hashed_pid


def test_p1_gives_level_1(fake, config):
    answer = redeem(fake, config, userinfo=fake.userinfo(fake.core_identity(vot="P1")))
    assert answer.level_of_assurance is LevelOfAssurance.LEVEL_1


def test_vot_below_the_flows_minimum_is_refused_by_the_neutral_checks(fake, config):
    answer = answer_of(fake, config, fake.userinfo(fake.core_identity(vot="P1")))
    flow = Flow(id="f", client_id="c", authorize_params={},
                minimum_level=LevelOfAssurance.LEVEL_2, created_at=answer.issued_at)
    failure = check_answer(answer, flow, now=answer.issued_at, skew=30)
    assert isinstance(failure, UpstreamFailure) and failure.kind is FailureKind.NOT_PROVEN
    assert failure.kind.oidc_error == "access_denied"


def test_the_raw_core_identity_jwt_is_not_kept(fake, config):
    token = fake.core_identity()
    identity = redeem(fake, config, userinfo=fake.userinfo(token))
    kept = json.dumps(encode(identity))  # the one form the broker stores an identity in
    assert token not in kept and token.split(".")[2] not in kept


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda f: unsigned_jwt({"alg": "none", "kid": f.identity_kid},
                                        claims_of(f.core_identity())), id="unsigned"),
    pytest.param(lambda f: f.core_identity(key=ECKey.generate_key("P-256")), id="wrongly-signed"),
    pytest.param(lambda f: f.core_identity(sub="urn:fdc:gov.uk:2022:someone-else"), id="sub-mismatch"),
    pytest.param(lambda f: f.core_identity(aud="another-client"), id="wrong-aud"),
    pytest.param(lambda f: f.core_identity(iss=ISSUER), id="wrong-iss"),
    pytest.param(lambda f: f.core_identity(exp=1_600_000_000), id="expired"),
    pytest.param(lambda f: f.core_identity(nbf=4_000_000_000), id="not-yet-valid"),
    pytest.param(lambda f: f.core_identity(vot="P0"), id="vot-not-a-level"),
    pytest.param(lambda f: f.core_identity(kid=f"{DID}#not-published"), id="key-not-in-did"),
    pytest.param(lambda f: f.core_identity(kid=f"did:web:evil.example#{f.identity_key.kid}"),
                 id="key-of-another-did"),
    pytest.param(lambda f: f.core_identity(vc={"type": ["VerifiableCredential"]}), id="no-subject"),
])
def test_a_bad_core_identity_jwt_is_refused(fake, config, spoil, request):
    with pytest.raises(AnswerRejected, match=WHY[request.node.callspec.id]):
        redeem(fake, config, userinfo=fake.userinfo(spoil(fake)))


def test_a_key_missing_from_the_did_document_is_fetched_again_once(fake, config):
    with pytest.raises(AnswerRejected, match="not in the identity service's DID document"):
        redeem(fake, config, userinfo=fake.userinfo(fake.core_identity(kid=f"{DID}#rotated")))
    fetches = [c for c in fake.mock.calls if c.request.url == DID_URL]
    assert len(fetches) == 2  # the first fetch and one more, for a rotation


@pytest.mark.parametrize("document", [
    pytest.param(lambda f: {**f.default_did_document(), "id": "did:web:evil.example"},
                 id="another-did"),
    pytest.param(lambda f: {**f.default_did_document(), "assertionMethod": [
        {**f.default_did_document()["assertionMethod"][0], "controller": "did:web:evil.example"}]},
                 id="another-controller"),
    pytest.param(lambda f: {**f.default_did_document(), "assertionMethod": [
        {**f.default_did_document()["assertionMethod"][0],
         "publicKeyJwk": f.identity_key.as_dict(private=True)}]}, id="private-key"),
    pytest.param(lambda f: {**f.default_did_document(), "assertionMethod": [
        {**f.default_did_document()["assertionMethod"][0],
         "publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}}]},
                 id="not-a-key"),
    pytest.param(lambda f: {"id": DID}, id="no-assertion-method"),
])
def test_a_did_document_that_does_not_verify_is_refused(fake, config, document):
    fake.did_document = document(fake)
    with pytest.raises(OneLoginUnavailable):
        redeem(fake, config)


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda f: f.id_token("another-nonce"), id="wrong-nonce"),
    pytest.param(lambda f: f.id_token(NONCE, aud="another-client"), id="wrong-aud"),
    pytest.param(lambda f: f.id_token(NONCE, iss="https://evil.example/"), id="wrong-iss"),
    pytest.param(lambda f: f.id_token(NONCE, exp=1_600_000_000), id="expired"),
    pytest.param(lambda f: f.id_token(NONCE, iat=4_000_000_000), id="issued-in-the-future"),
    pytest.param(lambda f: f.id_token(NONCE, vot="Cl"), id="low-authentication"),
    pytest.param(lambda f: jwt.encode({"alg": "ES256", "kid": f.id_token_key.kid},
                                      claims_of(f.id_token(NONCE)),
                                      ECKey.generate_key("P-256")), id="wrongly-signed"),
    pytest.param(lambda f: unsigned_jwt({"alg": "none"}, claims_of(f.id_token(NONCE))),
                 id="unsigned"),
])
def test_a_bad_id_token_is_refused(fake, config, spoil, request):
    with pytest.raises(AnswerRejected, match=WHY[f"id-token-{request.node.callspec.id}"]):
        redeem(fake, config, id_token=spoil(fake))


def test_userinfo_about_another_user_is_refused(fake, config):
    with pytest.raises(AnswerRejected, match="another user"):
        redeem(fake, config, userinfo=fake.userinfo(sub="urn:fdc:gov.uk:2022:someone-else"))


def test_a_replayed_authorization_code_is_refused(fake, config):
    redeem(fake, config)
    client = OneLoginClient(config, OneLoginProvider(config))
    with pytest.raises(AnswerRejected, match="400"):
        client.redeem("code-1", EXPECTED)


def test_no_core_identity_with_a_return_code_is_a_failure_not_an_identity(fake, config):
    answer = redeem(fake, config, userinfo={"sub": SUB, RETURN_CODE: [{"code": "X"}]})
    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.NOT_PROVEN
    assert answer.kind.oidc_error == "access_denied"


def test_addresses_are_optional_but_must_be_well_formed(fake, config):
    with pytest.raises(AnswerRejected):
        redeem(fake, config, userinfo=fake.userinfo(**{ADDRESS: [{"validFrom": "yesterday"}]}))


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_the_token_request_authenticates_with_private_key_jwt(fake, alg):
    config = one_login_config(alg)
    redeem(fake, config)
    sent, = fake.token_requests
    assert sent["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert sent["redirect_uri"] == EXPECTED.redirect_uri and sent["code"] == "code-1"
    token = jwt.decode(sent["client_assertion"], KeySet.import_key_set(public_jwks(config)),
                       algorithms=[alg])
    assert token.header["alg"] == alg
    claims = token.claims
    assert claims["aud"] == f"{ISSUER}token"
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["jti"] and claims["exp"] - claims["iat"] <= 300


def test_one_login_unreachable_keeps_the_last_good_copy_and_says_so(fake, config):
    now = [1_000_000.0]
    provider = OneLoginProvider(config, clock=lambda: now[0])
    first = provider.current()
    fake.mock.replace(responses.GET, DID_URL, status=503)
    now[0] += config.refresh_seconds + 1
    assert provider.current() is first
    status = provider.status()
    assert status["ok"] is True and "503" in status["last_error"]
    now[0] += config.refresh_seconds * 24
    with pytest.raises(OneLoginUnavailable):
        provider.current()
    assert provider.status()["ok"] is False


def test_no_copy_at_all_is_unavailable(config):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{ISSUER}.well-known/openid-configuration", status=500)
        with pytest.raises(OneLoginUnavailable):
            OneLoginProvider(config).current()


def test_a_discovery_document_for_another_issuer_is_refused(config):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{ISSUER}.well-known/openid-configuration",
                 json={"issuer": "https://evil.example/", "authorization_endpoint": "x",
                       "token_endpoint": "x", "userinfo_endpoint": "x", "jwks_uri": "x"})
        with pytest.raises(OneLoginUnavailable, match="issuer"):
            OneLoginProvider(config).current()


def test_core_identity_claim_name(fake):
    assert CORE_IDENTITY == "https://vocab.account.gov.uk/v1/coreIdentityJWT"


def signed(key, header: dict, payload: bytes) -> str:
    """A JWS over any bytes (not only a JSON object), signed properly by `key`."""
    from joserfc import jws

    return jws.serialize_compact({**header, "alg": "ES256"}, payload, key)


@pytest.mark.parametrize("userinfo", [
    pytest.param(lambda f: f.userinfo(signed(f.identity_key, {"kid": f.identity_kid}, b"[1, 2]")),
                 id="core-identity-payload-a-list"),
    pytest.param(lambda f: f.userinfo("a.b.c"), id="core-identity-garbage"),
    pytest.param(lambda f: f.userinfo(12345), id="core-identity-a-number"),
    pytest.param(lambda f: f.userinfo(f.core_identity(vc={"credentialSubject": {
        "name": [{"nameParts": [{"type": "FamilyName", "value": {"nested": 1}}]}],
        "birthDate": [{"value": "1980-05-01"}]}})), id="name-part-not-text"),
    pytest.param(lambda f: f.userinfo(f.core_identity(vc={"credentialSubject": {
        "name": "Jane", "birthDate": [{"value": "1980-05-01"}]}})), id="name-not-a-list"),
    pytest.param(lambda f: f.userinfo(f.core_identity(vc={"credentialSubject": {
        "name": [{"nameParts": [{"type": "FamilyName", "value": "Doe"}]}],
        "birthDate": [{"value": "01/05/1980"}]}})), id="birth-date-not-iso"),
    pytest.param(lambda f: f.userinfo(**{ADDRESS: "1 High Street"}), id="address-not-a-list"),
])
def test_malformed_identity_data_is_refused_never_a_crash(fake, config, userinfo):
    with pytest.raises(AnswerRejected):
        redeem(fake, config, userinfo=userinfo(fake))


def test_an_id_token_whose_payload_is_not_an_object_is_refused(fake, config):
    token = signed(fake.id_token_key, {"kid": fake.id_token_key.kid}, b'"just a string"')
    with pytest.raises(AnswerRejected):
        redeem(fake, config, id_token=token)


def test_a_return_code_claim_of_the_wrong_shape_is_still_a_failure_page(fake, config):
    answer = redeem(fake, config, userinfo={"sub": SUB, RETURN_CODE: 7})
    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.NOT_PROVEN


def test_a_token_refusal_names_one_logins_error_description(fake, config):
    fake.mock.add(responses.POST, f"{ISSUER}token", status=400, json={
        "error": "invalid_client", "error_description": "Invalid signature in private_key_jwt"})
    with pytest.raises(AnswerRejected) as refused:
        OneLoginClient(config, OneLoginProvider(config)).redeem("code-1", EXPECTED)
    assert str(refused.value) == ("One Login's token endpoint refused: 400 invalid_client "
                                  "('Invalid signature in private_key_jwt')")
