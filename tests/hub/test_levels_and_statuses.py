"""Levels of assurance and the hub's failure statuses: each has its own resident page and the
council app receives the matching OIDC error, with `state` and `iss`."""

from __future__ import annotations

import pytest

from broker.devtools.stub_hub.identities import FAILURES
from broker.devtools.stub_hub.saml import FraudEvent
from broker.identity import VERIFY_LOA_PREFIX, LevelOfAssurance
from broker.web.pages import PAGES
from tests.hub.conftest import assert_signed_in
from tests.hub_messages import failure, forge

STATUS_OUTCOMES = {
    # stub hub failure: (resident page, OIDC error for the council)
    "cancel": ("cancelled", "access_denied"),
    "authn-failed": ("authn-failed", "access_denied"),
    "loa-pending": ("loa-pending", "access_denied"),
    "requester-error": ("hub-error", "temporarily_unavailable"),
    "no-passive": ("no-passive", "login_required"),
}


def test_every_failure_the_stub_hub_offers_has_an_expected_outcome():
    assert set(FAILURES) == set(STATUS_OUTCOMES)


def _assert_failure_page(stack, outcome, page: str, error: str) -> None:
    assert outcome.heading == PAGES[page].title
    assert outcome.response.status_code == PAGES[page].status
    params = outcome.council_error()
    assert params["error"] == error
    assert params["state"] == outcome.attempt.state
    assert params["iss"] == stack.broker_url


@pytest.mark.parametrize("kind", sorted(STATUS_OUTCOMES))
def test_hub_status_leads_to_its_own_page_and_oidc_error(stack, send, kind):
    page, error = STATUS_OUTCOMES[kind]
    outcome = send(lambda a: failure(stack, a.authn_request_id, kind))
    _assert_failure_page(stack, outcome, page, error)


def test_level_x_is_never_a_success(stack, send):
    """A fraud event: a neutral page of its own, never "sign in with a stronger check"."""
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   level_uri=f"{VERIFY_LOA_PREFIX}levelX", fraud=FraudEvent()))
    _assert_failure_page(stack, outcome, "not-verified", "access_denied")
    assert "stronger" not in outcome.response.text


def test_level_below_the_requested_minimum_is_refused(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, identity="lee"),
                   acr_values=LevelOfAssurance.LEVEL_2.uri)
    _assert_failure_page(stack, outcome, "level-not-met", "access_denied")


def test_level_below_the_clients_default_minimum_is_refused(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, identity="lee"))
    _assert_failure_page(stack, outcome, "level-not-met", "access_denied")


def test_acr_values_below_the_clients_level_do_not_let_a_lower_level_in(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, identity="lee"),
                   acr_values=LevelOfAssurance.LEVEL_1.uri)
    _assert_failure_page(stack, outcome, "level-not-met", "access_denied")


def test_level_above_the_minimum_signs_in(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id,
                                          level_uri=LevelOfAssurance.LEVEL_3.uri),
                          acr_values=LevelOfAssurance.LEVEL_2.uri))
