"""The stub OpenID provider, served on a real port, against the plug-in: every choice a developer
can make there ends as the failure kind or level it stands for."""

from __future__ import annotations

import time

import pytest
import requests

from broker.config import AssuranceRule
from broker.devtools.stub_hub.app import ProductionRefused
from broker.devtools.stub_openid_ida.app import StubOpenIdIdaConfig, create_stub_openid_ida
from broker.identity import Flow, LevelOfAssurance
from broker.openid_ida.upstream import OpenIdIdaUpstream, discovery_problems, public_jwks
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure
from tests.conftest import _serve, free_port
from tests.forms import form_fields
from tests.openid_ida.fake import CLIENT_ID, broker_config, client_key, ida_config

RULES = (AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_1, assurance_level="low"),
         AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_2, assurance_level="medium"),
         AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_3, assurance_level="high"))


@pytest.fixture(scope="module")
def stub():
    key = client_key()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = StubOpenIdIdaConfig(base_url=url, client_id=CLIENT_ID,
                                 redirect_uris=("https://broker.test/openid-ida/callback",),
                                 client_jwks=public_jwks(ida_config(key)))
    server = _serve(create_stub_openid_ida(config), port)
    ida = ida_config(key, issuer=url, levels=RULES, errors=(("fraud_detected", "fraud"),),
                     claims=("given_name", "middle_name", "family_name", "birth_family_name",
                             "birthdate", "address"))
    yield OpenIdIdaUpstream(broker_config(ida))
    server.shutdown()


def choose(upstream: OpenIdIdaUpstream, choice: str, minimum=LevelOfAssurance.LEVEL_1):
    flow = Flow(id="flow-0123456789abcdefghij", client_id="app", authorize_params={},
                minimum_level=minimum, created_at=int(time.time()))
    handed = upstream.hand_off(flow, force_login=False)
    browser = requests.Session()
    page = browser.get(handed.response[2]["Location"], timeout=10)
    assert page.status_code == 200, page.text
    _method, action, fields = form_fields(page.text, "choose")
    fields["choice"] = choice
    back = browser.post(upstream.config.issuer + action, data=fields, allow_redirects=False,
                        timeout=10)
    assert back.status_code == 302
    location = back.headers["Location"]
    assert location.startswith("https://broker.test/openid-ida/callback?")
    args = dict(part.split("=", 1) for part in location.split("?", 1)[1].split("&"))
    assert args.pop("state") == flow.id
    return upstream.answer(handed.flow, args)


@pytest.mark.parametrize("choice, level", [("lee", LevelOfAssurance.LEVEL_1),
                                           ("jane", LevelOfAssurance.LEVEL_2),
                                           ("jane-high", LevelOfAssurance.LEVEL_3)])
def test_each_level_signs_in(stub, choice, level):
    answer = choose(stub, choice)

    assert isinstance(answer, UpstreamAnswer), answer
    assert answer.level is level


def test_jane_arrives_with_her_address_history_and_earlier_surname(stub):
    dataset = choose(stub, "jane").matching_dataset

    assert [v.value for v in dataset.surnames] == ["Doe", "Smith"]
    assert [v.value for v in dataset.middle_names] == ["Ann"]
    assert dataset.current_address().post_code == "AB1 2CD"
    assert dataset.previous_addresses


def test_a_flow_needing_more_than_low_gets_no_low_verified_claims(stub):
    answer = choose(stub, "lee", minimum=LevelOfAssurance.LEVEL_2)

    assert isinstance(answer, UpstreamFailure) and answer.kind is FailureKind.NOT_PROVEN


@pytest.mark.parametrize("choice, kind", [
    ("access-denied", FailureKind.CANCELLED),
    ("not-proven", FailureKind.NOT_PROVEN),
    ("unknown-framework", FailureKind.NOT_PROVEN),
    ("fraud", FailureKind.FRAUD),
    ("server-error", FailureKind.UNAVAILABLE),
    ("temporarily-unavailable", FailureKind.UNAVAILABLE),
])
def test_each_failure_choice_is_its_kind(stub, choice, kind):
    answer = choose(stub, choice)

    assert isinstance(answer, UpstreamFailure) and answer.kind is kind, answer


def test_a_code_is_redeemed_once(stub):
    flow = Flow(id="flow-0123456789abcdefghik", client_id="app", authorize_params={},
                minimum_level=LevelOfAssurance.LEVEL_1, created_at=int(time.time()))
    handed = stub.hand_off(flow, force_login=False)
    browser = requests.Session()
    page = browser.get(handed.response[2]["Location"], timeout=10)
    _method, action, fields = form_fields(page.text, "choose")
    back = browser.post(stub.config.issuer + action, data=fields, allow_redirects=False, timeout=10)
    code = back.headers["Location"].split("code=")[1].split("&")[0]

    assert isinstance(stub.answer(handed.flow, {"code": code}), UpstreamAnswer)
    again = stub.answer(handed.flow, {"code": code})
    assert isinstance(again, UpstreamFailure) and again.kind is FailureKind.REJECTED


def test_the_stubs_discovery_document_satisfies_the_configuration_checks(stub):
    document = requests.get(stub.config.discovery_url, timeout=10).json()

    assert list(discovery_problems(stub.config, document)) == []


def test_check_config_names_what_a_provider_does_not_offer(stub):
    document = requests.get(stub.config.discovery_url, timeout=10).json()
    document.update(claims_parameter_supported=False, trust_frameworks_supported=["eidas"],
                    token_endpoint_auth_methods_supported=["client_secret_basic"])
    keys = {problem.key for problem in discovery_problems(stub.config, document)}

    assert keys == {"openid_ida.issuer", "openid_ida.client_auth",
                    "openid_ida.levels[0].trust_framework", "openid_ida.levels[1].trust_framework",
                    "openid_ida.levels[2].trust_framework"}


def test_the_stub_refuses_to_run_in_production():
    with pytest.raises(ProductionRefused):
        create_stub_openid_ida(StubOpenIdIdaConfig(base_url="http://x", client_id="c",
                                                   redirect_uris=(), mode="production"))


def test_check_config_names_an_unreachable_provider():
    upstream = OpenIdIdaUpstream(broker_config(ida_config(
        client_key(), issuer=f"http://127.0.0.1:{free_port()}", levels=RULES)))
    problems = list(upstream.configuration_problems(offline=False, now=None))

    assert [(p.key, p.severity) for p in problems] == [("openid_ida.issuer", "error")]
    assert list(upstream.configuration_problems(offline=True, now=None)) == []
