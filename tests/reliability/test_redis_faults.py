"""Redis stops, restarts and hangs under a broker running as `broker serve` (gunicorn).

Every sign-in either completes or ends on a clear page; a resident never meets a 500 or a stack
trace; the broker recovers when Redis comes back, without a restart; a frozen Redis costs a
request at most the client's timeouts (broker/state.py connect(): 2 s), never a hung worker.
"""

from __future__ import annotations

import time

import lxml.html
import pytest
import requests

from tests import hub_messages
from tests.oidc_client import authorize, post_to_acs, query, redeem
from tests.reliability.conftest import no_stack_trace, wait_until

UNAVAILABLE = "Sorry, the service is unavailable"
START_AGAIN = "start signing in again"


def answer_hub(stack, attempt) -> requests.Response:
    return post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id),
                       attempt.relay_state)


def complete_sign_in(stack) -> dict:
    """A whole sign-in against the process stack; returns the token response's JSON."""
    attempt = authorize(stack)
    assert attempt.relay_state, attempt.response.text
    answer = answer_hub(stack, attempt)
    assert answer.status_code == 302, answer.text
    tokens = redeem(stack, query(answer.headers["Location"])["code"], attempt.verifier,
                    attempt.redirect_uri)
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


@pytest.fixture(scope="module")
def shared_stack(module_redis, module_stacks):
    return module_stacks.build(module_redis.url)


@pytest.fixture
def outage_stack(own_redis, shared_stack):
    return own_redis, shared_stack


def test_in_flight_sign_in_ends_on_the_unavailable_page_while_redis_is_down(outage_stack):
    redis_server, stack = outage_stack
    attempt = authorize(stack)
    redis_server.stop()
    answer = answer_hub(stack, attempt)
    assert answer.status_code == 503 and UNAVAILABLE in answer.text
    assert no_stack_trace(answer)


def test_the_unavailable_page_keeps_the_councils_brand_and_the_way_back_to_it(outage_stack):
    """Issue 26.4: with Redis down the resident still sees whose sign-in this was, and a link
    back to the council (the remembered council is a cookie: no Redis needed)."""
    redis_server, stack = outage_stack
    attempt = authorize(stack)
    redis_server.stop()
    answer = answer_hub(stack, attempt)
    assert answer.status_code == 503
    page = lxml.html.fromstring(answer.text)
    assert page.get_element_by_id("brand").get("data-brand") == "councils/test-borough"
    assert page.get_element_by_id("way-back").get("href") == stack.council_url


def test_in_flight_sign_in_whose_state_was_lost_ends_on_the_start_again_page(outage_stack):
    redis_server, stack = outage_stack
    attempt = authorize(stack)
    redis_server.stop()
    redis_server.start()  # no persistence: the flow is gone
    answer = answer_hub(stack, attempt)  # each worker reconnects on its next command
    assert answer.status_code == 400 and START_AGAIN in answer.text
    assert no_stack_trace(answer)


def test_in_flight_sign_in_whose_state_survived_the_restart_completes(redis_server_factory,
                                                                      process_stack_factory):
    redis_server = redis_server_factory(persistent=True)
    stack = process_stack_factory(redis_server.url)
    attempt = authorize(stack)
    redis_server.stop()
    redis_server.start()  # the append-only file brings the flow back
    answer = answer_hub(stack, attempt)
    assert answer.status_code == 302, answer.text
    tokens = redeem(stack, query(answer.headers["Location"])["code"], attempt.verifier,
                    attempt.redirect_uri)
    assert tokens.status_code == 200


def test_new_sign_in_during_the_outage_gets_the_unavailable_page(outage_stack):
    redis_server, stack = outage_stack
    redis_server.stop()
    attempt = authorize(stack)
    assert attempt.response.status_code == 503 and UNAVAILABLE in attempt.response.text
    assert no_stack_trace(attempt.response)


def answers_during_the_fault(stack, attempt, fault) -> tuple[requests.Response, requests.Response,
                                                              float]:
    """After `fault()`: the hub's answer to `attempt`, a new /authorize, and their seconds."""
    fault()
    started = time.monotonic()
    answer = answer_hub(stack, attempt)
    new = authorize(stack).response
    return answer, new, time.monotonic() - started


def test_a_redis_that_refuses_connections_costs_a_request_no_waiting(outage_stack):
    """Each request fails at once to the unavailable page: no retry loop, no back-off wait."""
    redis_server, stack = outage_stack
    complete_sign_in(stack)
    answer, new, elapsed = answers_during_the_fault(stack, authorize(stack), redis_server.stop)
    assert answer.status_code == 503 and new.status_code == 503
    assert elapsed < 5  # no back-off: a retry loop with back-off waited about 8 s


def test_token_request_during_the_outage_gets_an_oauth_error_not_a_500(outage_stack):
    redis_server, stack = outage_stack
    attempt = authorize(stack)
    answer = answer_hub(stack, attempt)
    code = query(answer.headers["Location"])["code"]
    redis_server.stop()
    tokens = redeem(stack, code, attempt.verifier, attempt.redirect_uri)
    assert tokens.status_code == 503 and tokens.json()["error"] == "temporarily_unavailable"


def test_new_sign_ins_succeed_as_soon_as_redis_is_back_without_restarting_the_broker(outage_stack):
    redis_server, stack = outage_stack
    complete_sign_in(stack)
    redis_server.stop()
    assert authorize(stack).response.status_code == 503
    redis_server.start()
    back = time.monotonic()
    # Both gunicorn workers must recover: a handful of sign-ins reach both of them.
    for _ in range(6):
        assert "access_token" in complete_sign_in(stack)
    assert time.monotonic() - back < 30
    assert [b.process.poll() for b in stack.brokers] == [None]


def redis_check(stack) -> tuple[int, bool]:
    response = requests.get(f"{stack.broker_url}/readyz", timeout=10)
    return response.status_code, response.json()["checks"]["redis"]["ok"]


def test_readyz_reports_the_outage_and_the_recovery(outage_stack):
    redis_server, stack = outage_stack
    wait_until(lambda: redis_check(stack) == (200, True), 20, "/readyz to say ready")
    redis_server.stop()
    assert redis_check(stack) == (503, False)
    redis_server.start()
    wait_until(lambda: redis_check(stack) == (200, True), 20, "/readyz to say ready again")


def test_a_frozen_redis_never_hangs_a_worker(outage_stack):
    redis_server, stack = outage_stack
    answer, new, elapsed = answers_during_the_fault(stack, authorize(stack), redis_server.pause)
    redis_server.resume()
    assert answer.status_code == 503 and new.status_code == 503
    assert no_stack_trace(answer) and no_stack_trace(new)
    # Each request waits out at most a few 2 s socket timeouts (the rate limiter's settlement,
    # then the step's own state), never a retry loop: far below gunicorn's 30 s.
    assert elapsed < 16
    assert "WORKER TIMEOUT" not in stack.brokers[0].log()


def test_the_broker_answers_health_checks_while_redis_is_frozen(outage_stack):
    redis_server, stack = outage_stack
    redis_server.pause()
    started = time.monotonic()
    health = requests.get(f"{stack.broker_url}/healthz", timeout=10)
    redis_server.resume()
    assert health.status_code == 200 and time.monotonic() - started < 5


def scrape(stack, name: str) -> float:
    text = requests.get(f"{stack.broker_url}/metrics", timeout=10,
                        headers={"Connection": "close"}).text  # either worker may answer
    [line] = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(line.rsplit(" ", 1)[1])


def test_a_redis_outage_is_the_state_store_metric_not_the_hub_metadata_one(outage_stack):
    redis_server, stack = outage_stack
    complete_sign_in(stack)
    for _ in range(10):  # every worker verifies its own copy of the metadata
        assert scrape(stack, "broker_state_store_up") == 1
        assert scrape(stack, "broker_hub_metadata_usable") == 1
    redis_server.stop()
    during = [(scrape(stack, "broker_state_store_up"), scrape(stack, "broker_hub_metadata_usable"))
              for _ in range(10)]
    assert {up for up, _ in during} == {0}
    assert 0 not in {usable for _, usable in during}, "the hub metadata alert must not fire"
    assert 1 in {usable for _, usable in during}
    redis_server.start()
    wait_until(lambda: scrape(stack, "broker_state_store_up") == 1, 20, "the store to be back")
