"""Item 8 of issue 24: a council's configured level is a floor.

The authorization request passes through the resident's browser, so its `acr_values` can be
edited there. A client configured for LEVEL_2 must never see a LEVEL_1 identity because a
request asked for LEVEL_1: `acr_values` can raise the configured level, never lower it, unless the
client's configuration says `acr_values_may_lower_level: true`. The ID token's `acr` states the
level the resident reached."""

from __future__ import annotations

import base64

import pytest
import requests

from broker.config import ConfigError, load_config
from broker.devtools.stub_hub.saml import encode
from broker.identity import LevelOfAssurance
from tests import hub_messages
from tests.conftest import Ports, write_config
from tests.matching.conftest import calls_to, match_answer
from tests.oidc_client import authorize, post_to_acs, query, redeem, sign_in, validate_id_token

LEVEL_1, LEVEL_2, LEVEL_3 = (LevelOfAssurance.LEVEL_1, LevelOfAssurance.LEVEL_2,
                             LevelOfAssurance.LEVEL_3)


def asked_of_the_hub(attempt) -> str:
    xml = base64.b64decode(attempt.saml_request).decode()
    return next(level.name for level in LevelOfAssurance if f">{level.uri}<" in xml)


def test_an_edited_request_for_level_1_never_brings_a_level_1_identity_to_matching(
        matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, {"result": "match", "localAccountId": "TB-1"})
    attempt = authorize(stack, acr_values=LEVEL_1.uri)  # the client is configured for LEVEL_2
    assert asked_of_the_hub(attempt) == "LEVEL_2"
    response = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, "lee"),
                           attempt.relay_state)
    assert 'data-page="level-not-met"' in response.text
    assert "code" not in query(response.headers.get("Location", ""))
    assert calls_to(matching_service) == []


def test_acr_values_naming_several_levels_cannot_go_below_the_floor(stack):
    attempt = authorize(stack, acr_values=f"{LEVEL_1.uri} {LEVEL_3.uri}")
    assert asked_of_the_hub(attempt) == "LEVEL_2"


def test_acr_values_can_raise_the_clients_level(stack):
    assert asked_of_the_hub(authorize(stack, acr_values=LEVEL_3.uri)) == "LEVEL_3"


def test_a_broker_session_below_the_floor_is_not_reused_for_an_edited_request(stack_factory):
    """A LEVEL_1 session from a council that accepts LEVEL_1 does not satisfy a LEVEL_2 client's
    request edited down to LEVEL_1: the resident goes to the hub again."""
    stack = stack_factory(lambda ports: {"clients": [
        {"client_id": "level-1-app", "council": "test-borough", "client_secret": "secret-one",
         "redirect_uris": [f"{ports.url('council')}/callback"], "default_level": "LEVEL_1"},
        {"client_id": "level-2-app", "council": "test-borough", "client_secret": "secret-two",
         "redirect_uris": [f"{ports.url('council')}/callback"], "default_level": "LEVEL_2"}]})
    browser = requests.Session()
    sign_in(stack, browser, identity="lee", client_id="level-1-app")
    again = authorize(stack, session=browser, client_id="level-2-app", acr_values=LEVEL_1.uri)
    assert again.relay_state is not None, "the LEVEL_1 session was reused for a LEVEL_2 client"
    assert asked_of_the_hub(again) == "LEVEL_2"


def test_a_client_configured_to_let_requests_lower_its_level_gets_level_1(stack_factory):
    stack = stack_factory(lambda _ports: {"clients.0.acr_values_may_lower_level": True})
    attempt, params = sign_in(stack, identity="lee", acr_values=LEVEL_1.uri)
    assert asked_of_the_hub(attempt) == "LEVEL_1"
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    assert validate_id_token(stack, token["id_token"], attempt.nonce)["acr"] == LEVEL_1.uri


def test_the_id_token_acr_is_the_level_the_resident_reached(stack):
    attempt = authorize(stack)
    answer = encode(hub_messages.forge(stack, attempt.authn_request_id, level_uri=LEVEL_3.uri))
    response = post_to_acs(stack, answer, attempt.relay_state)
    code = query(response.headers["Location"])["code"]
    token = redeem(stack, code, attempt.verifier, attempt.redirect_uri).json()
    assert validate_id_token(stack, token["id_token"], attempt.nonce)["acr"] == LEVEL_3.uri


@pytest.mark.parametrize("value", ["yes please", 1])
def test_the_opt_in_must_be_a_boolean(tmp_path, keys_dir, value):
    path = write_config(tmp_path, keys_dir, Ports(18000, 18001, 18002), "redis://127.0.0.1:6379/0",
                        "t:", **{"clients.0.acr_values_may_lower_level": value})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == (f"{path}: clients[0].acr_values_may_lower_level: must be bool, "
                                f"got {type(value).__name__}")
