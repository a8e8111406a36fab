"""SIGTERM to `broker serve` (gunicorn's graceful shutdown, broker/serve.py graceful_timeout):
a sign-in already being handled finishes with its code; the master then exits cleanly."""

from __future__ import annotations

import signal
import threading

import pytest

from tests import hub_messages
from tests.oidc_client import authorize, post_to_acs, query
from tests.reliability.conftest import MatchingStub, wait_until

CONTACT = {"phone": "0300 555 0100"}


@pytest.fixture
def slow_matching_stack(process_stack_factory, redis_url, matching_stub: MatchingStub, tmp_path):
    """One broker whose council's matching service takes 3 s to answer."""
    matching_stub.delay = 3.0
    return process_stack_factory(redis_url, config_changes=lambda ports: {
        "database": {"url": f"sqlite:///{tmp_path / 'links.sqlite3'}", "auto_upgrade": True},
        "councils.test-borough.matching": {"service_url": matching_stub.url,
                                           "timeout_seconds": 10, "contact": CONTACT}})


def test_sigterm_lets_an_in_flight_sign_in_finish(slow_matching_stack, matching_stub):
    stack = slow_matching_stack
    attempt = authorize(stack)
    answers = []
    in_flight = threading.Thread(target=lambda: answers.append(post_to_acs(
        stack, hub_messages.success(stack, attempt.authn_request_id), attempt.relay_state)))
    in_flight.start()
    wait_until(lambda: matching_stub.calls, 15, "the sign-in to reach the matching service")
    broker = stack.brokers[0]
    broker.process.send_signal(signal.SIGTERM)
    in_flight.join(30)
    assert answers and answers[0].status_code == 302
    assert "code" in query(answers[0].headers["Location"])
    assert broker.process.wait(timeout=30) == 0
