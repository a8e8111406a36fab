"""The plug-in against npm's oidc-provider, a certified OpenID provider nobody here wrote:
discovery, PKCE, both client authentications, its ID tokens and /userinfo, and the
`verified_claims` it returns."""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from broker.config import AssuranceRule
from broker.identity import Flow, LevelOfAssurance
from broker.openid_ida.upstream import OpenIdIdaUpstream, public_jwks
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure
from tests.openid_ida.certified_provider import certified_provider, sign_in_at_provider
from tests.openid_ida.fake import broker_config, client_key, ida_config

CALLBACK = "https://broker.test/openid-ida/callback"
SECRET = "a-client-secret-for-the-certified-provider"
RULES = (AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_1, assurance_level="low"),
         AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_2, assurance_level="medium"))
KEY = client_key()


@pytest.fixture(scope="module")
def issuer():
    clients = [
        {"client_id": "broker-jwt", "redirect_uris": [CALLBACK], "grant_types":
         ["authorization_code"], "response_types": ["code"],
         "token_endpoint_auth_method": "private_key_jwt",
         "jwks": public_jwks(ida_config(KEY))},
        {"client_id": "broker-basic", "client_secret": SECRET, "redirect_uris": [CALLBACK],
         "grant_types": ["authorization_code"], "response_types": ["code"],
         "token_endpoint_auth_method": "client_secret_basic"},
    ]
    with certified_provider(clients) as issuer:
        yield issuer


def upstream_for(issuer: str, basic: bool = False) -> OpenIdIdaUpstream:
    if basic:
        config = ida_config(issuer=issuer, client_id="broker-basic", client_secret=SECRET,
                            levels=RULES)
    else:
        config = ida_config(KEY, issuer=issuer, client_id="broker-jwt", levels=RULES)
    return OpenIdIdaUpstream(broker_config(config))


def sign_in(upstream: OpenIdIdaUpstream, login: str, minimum=LevelOfAssurance.LEVEL_1,
            spoil=lambda flow: flow):
    flow = Flow(id=f"flow-{time.monotonic_ns()}-abcdefgh", client_id="app", authorize_params={},
                minimum_level=minimum, created_at=int(time.time()))
    handed = upstream.hand_off(flow, force_login=False)
    back = sign_in_at_provider(requests.Session(), handed.response[2]["Location"], login,
                               CALLBACK)
    args = {key: values[0] for key, values in parse_qs(urlparse(back).query).items()}
    assert args.pop("state") == flow.id
    return upstream.answer(spoil(handed.flow), args)


@pytest.mark.parametrize("basic", [False, True], ids=["private_key_jwt", "client_secret_basic"])
def test_a_resident_verified_at_medium_signs_in_at_level_2(issuer, basic):
    answer = sign_in(upstream_for(issuer, basic), "jane")

    assert isinstance(answer, UpstreamAnswer), answer
    assert answer.level is LevelOfAssurance.LEVEL_2 and answer.subject == "jane"
    assert answer.issuer == issuer and answer.auth_time is not None
    dataset = answer.matching_dataset
    assert [v.value for v in dataset.surnames] == ["Doe", "Smith"]
    assert dataset.current_address().post_code == "AB1 2CD"
    assert [a.post_code for a in dataset.previous_addresses] == ["OT9 8ZY"]


def test_a_resident_verified_at_low_signs_in_at_level_1(issuer):
    answer = sign_in(upstream_for(issuer), "lee")

    assert isinstance(answer, UpstreamAnswer) and answer.level is LevelOfAssurance.LEVEL_1


def test_verification_under_a_trust_framework_not_in_the_mapping_proves_nothing(issuer):
    answer = sign_in(upstream_for(issuer), "elsewhere")

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.NOT_PROVEN


def test_a_resident_without_verified_claims_is_not_proven(issuer):
    answer = sign_in(upstream_for(issuer), "nobody-verified")

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.NOT_PROVEN


def test_the_provider_refuses_a_code_with_another_pkce_verifier(issuer):
    def other_verifier(flow):
        return replace(flow, openid=replace(flow.openid, code_verifier="v" * 60))
    answer = sign_in(upstream_for(issuer), "jane", spoil=other_verifier)

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED
    assert "invalid_grant" in answer.detail


def test_the_providers_id_token_is_refused_for_another_flows_nonce(issuer):
    def other_nonce(flow):
        return replace(flow, openid=replace(flow.openid, nonce="another-flows-nonce"))
    answer = sign_in(upstream_for(issuer), "jane", spoil=other_nonce)

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.REJECTED
    assert "nonce" in answer.detail


def test_the_providers_discovery_document_passes_the_configuration_checks(issuer):
    problems = list(upstream_for(issuer).configuration_problems(offline=False, now=None))

    assert [p for p in problems if p.severity == "error"] == []
