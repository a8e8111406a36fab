"""Replays: a Response or an Assertion is used once, across every broker process sharing Redis.

The flow is taken atomically at the assertion consumer service, so a replay normally ends at
'session expired'. These tests put the flow back as it was, as a race between two processes or
a restored flow would, to prove the replay cache itself refuses the second use.
"""

from __future__ import annotations

import redis
import requests

from broker.app import create_app
from broker.devtools.stub_hub import saml
from broker.observability import REDIS_ROUND_TRIPS
from broker.web.pages import PAGES
from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, forge
from tests.oidc_client import _browser_of_flow, authorize, post_to_acs


def _flow_key(stack, attempt) -> str:
    return stack.broker_app.extensions["broker"].state.key_for("flow", attempt.relay_state)


def test_replayed_response_after_the_flow_is_used_ends_on_the_expired_page(stack):
    attempt = authorize(stack)
    message = saml.encode(forge(stack, attempt.authn_request_id))
    assert post_to_acs(stack, message, attempt.relay_state).status_code == 302
    again = post_to_acs(stack, message, attempt.relay_state)
    assert again.status_code == 400
    assert PAGES["session-expired"].title in again.text


def test_replayed_response_is_rejected_by_the_replay_cache(stack, send):
    """And the answer kept beside the replay marks is discarded when a mark was already there:
    nothing is left for a continuation to take."""
    attempt = authorize(stack)
    saved_flow = stack.redis.get(_flow_key(stack, attempt))
    message = forge(stack, attempt.authn_request_id)
    assert_signed_in(send(lambda a: message, attempt))
    stack.redis.set(_flow_key(stack, attempt), saved_flow, ex=60)
    assert_rejected(send(lambda a: message, attempt), "was already used")
    assert _kept_answers(stack) == 0


def test_replayed_response_at_another_broker_process_is_rejected(stack, send, broker_log):
    attempt = authorize(stack)
    saved_flow = stack.redis.get(_flow_key(stack, attempt))
    message = saml.encode(forge(stack, attempt.authn_request_id))
    assert_signed_in(send(lambda a: message, attempt))
    stack.redis.set(_flow_key(stack, attempt), saved_flow, ex=60)

    other_process = create_app(stack.config).test_client()
    broker_log.clear()
    again = other_process.post("/saml/acs", data={"SAMLResponse": message,
                                                  "RelayState": attempt.relay_state},
                               follow_redirects=True)  # to the page's own address (ADR 23)
    assert again.status_code == 400
    assert PAGES["rejected"].title in again.get_data(as_text=True)
    assert "response" in broker_log.text and "was already used" in broker_log.text


def test_same_assertion_in_a_new_response_at_another_broker_process_is_rejected(
        stack, send, broker_log):
    attempt = authorize(stack)
    saved_flow = stack.redis.get(_flow_key(stack, attempt))
    assertion_id = saml.new_id()
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, id=assertion_id), attempt))
    stack.redis.set(_flow_key(stack, attempt), saved_flow, ex=60)

    fresh_response = forge(stack, attempt.authn_request_id, Forgery(response_id=saml.new_id()),
                           id=assertion_id)
    other_process = create_app(stack.config).test_client()
    broker_log.clear()
    again = other_process.post("/saml/acs", data={"SAMLResponse": saml.encode(fresh_response),
                                                  "RelayState": attempt.relay_state},
                               follow_redirects=True)  # to the page's own address (ADR 23)
    assert again.status_code == 400
    assert PAGES["rejected"].title in again.get_data(as_text=True)
    assert f"assertion {assertion_id} was already used" in broker_log.text


def test_replay_cache_entry_lives_until_not_on_or_after_plus_skew(stack, send):
    attempt = authorize(stack)
    assertion_id = saml.new_id()
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, id=assertion_id), attempt))
    ttl = stack.redis.ttl(f"{stack.prefix}seen:answer-verify:matching_dataset_assertion:{assertion_id}")
    # The stub hub's SubjectConfirmationData says NotOnOrAfter = now + 5 minutes; skew 30 s.
    assert 300 < ttl <= 330


def test_concurrent_sightings_of_one_id_let_exactly_one_through(stack, redis_url):
    """The atomic set-if-absent: many processes racing on one assertion id, one wins."""
    from concurrent.futures import ThreadPoolExecutor

    from broker.state import BrokerState

    assertion_id = saml.new_id()
    processes = [BrokerState(redis.Redis.from_url(redis_url), stack.prefix)
                 for _ in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda s: s.first_sighting("assertion", assertion_id, 60),
                                processes))
    assert results.count(True) == 1



def _kept_answers(stack) -> int:
    return sum(1 for kind in ("verified-signin", "answered-flow")
               for _ in stack.redis.scan_iter(f"{stack.prefix}{kind}:*"))


def test_the_assertion_consumer_service_takes_one_round_trip(stack, send):
    """Issue 27, ADR 24: the flow's take, the replay marks and the kept answer in one; then the
    continuation takes the answer and its flow in one, and writes the session and code in one."""
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id)))  # hub metadata read
    attempt = authorize(stack)
    message = saml.encode(forge(stack, attempt.authn_request_id))
    before = REDIS_ROUND_TRIPS._value.get()
    answer = requests.post(f"{stack.broker_url}/saml/acs", allow_redirects=False, timeout=10,
                           data={"SAMLResponse": message, "RelayState": attempt.relay_state})
    assert answer.status_code == 303 and "/signin/continue?token=" in answer.headers["Location"]
    assert REDIS_ROUND_TRIPS._value.get() - before == 1
    assert _kept_answers(stack) == 2
    assert stack.redis.get(_flow_key(stack, attempt)) is None  # taken

    browser = _browser_of_flow[attempt.relay_state]  # the one that started the flow
    before = REDIS_ROUND_TRIPS._value.get()
    code = browser.get(f"{stack.broker_url}{answer.headers['Location']}", allow_redirects=False,
                       timeout=10)
    assert code.status_code == 302 and "code=" in code.headers["Location"]
    assert REDIS_ROUND_TRIPS._value.get() - before == 2
    assert _kept_answers(stack) == 0


def test_an_answer_for_an_unknown_flow_keeps_nothing(stack, send):
    attempt = authorize(stack)
    message = saml.encode(forge(stack, attempt.authn_request_id))
    stack.redis.delete(_flow_key(stack, attempt))
    answer = requests.post(f"{stack.broker_url}/saml/acs", allow_redirects=False, timeout=10,
                           data={"SAMLResponse": message, "RelayState": attempt.relay_state})
    assert answer.status_code == 400 and PAGES["session-expired"].title in answer.text
    assert _kept_answers(stack) == 0
