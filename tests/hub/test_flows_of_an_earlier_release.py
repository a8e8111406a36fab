"""A deploy of ADR 25 (AuthnRequest IDs derived from the flow id) must not fail the hub sign-ins
in flight: a flow an earlier release started holds a random AuthnRequest ID, and the hub's
answer to it is still believed, once, and only for that flow."""

from __future__ import annotations

from dataclasses import replace

from broker.devtools.stub_hub import saml
from broker.hub.requests import authn_request_id_for
from broker.identity import SamlRequest
from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import forge
from tests.oidc_client import authorize


def started_by_an_earlier_release(stack):
    """A flow as the release before ADR 25 wrote it: its AuthnRequest ID random."""
    attempt = authorize(stack)
    state = stack.broker_app.extensions["broker"].state
    flow = state.peek_flow(attempt.relay_state)
    earlier_id = saml.new_id()
    state.save_flow(replace(flow, saml=SamlRequest(earlier_id)), ttl=600)
    return attempt, earlier_id


def test_the_answer_to_a_flow_an_earlier_release_started_signs_the_resident_in(stack, send):
    attempt, earlier_id = started_by_an_earlier_release(stack)
    assert earlier_id != authn_request_id_for(attempt.relay_state)
    assert_signed_in(send(lambda a: forge(stack, earlier_id), attempt))


def test_such_a_flow_believes_no_answer_to_the_derived_id(stack, send):
    attempt, _earlier_id = started_by_an_earlier_release(stack)
    derived = authn_request_id_for(attempt.relay_state)
    assert_rejected(send(lambda a: forge(stack, derived), attempt), "answer is not for this flow")


def test_an_answer_to_another_request_is_still_refused(stack, send):
    attempt = authorize(stack)
    assert_rejected(send(lambda a: forge(stack, saml.new_id()), attempt),
                    "InResponseTo does not match")
