"""Two broker instances (each `broker serve` with two gunicorn workers) on different ports,
sharing one configuration, one Redis and one link store, as behind a load balancer: any step of
a sign-in may reach either, and every single-use thing is used once across both."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from broker.matching.database import make_engine
from broker.matching.links import LinkStore
from tests import hub_messages
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.oidc_client import authorize, post_to_acs, query, redeem
from tests.reliability.conftest import MatchingStub, ProcessStack, _serve, free_port

GENEROUS = {"per_ip": "100000/minute", "per_client": "100000/minute"}
CONTACT = {"phone": "0300 555 0100"}


@pytest.fixture(scope="module")
def module_matching_stub() -> Iterator[MatchingStub]:
    stub = MatchingStub(free_port())
    stub.server = _serve(stub, stub.port)
    yield stub
    stub.server.shutdown()


@pytest.fixture(scope="module")
def pair(module_stacks, redis_url, link_database, module_matching_stub) -> ProcessStack:
    """Two instances; the council matches against the stub matching service."""
    return module_stacks.build(redis_url, instances=2, config_changes=lambda ports: {
        "rate_limits": {"authorize": GENEROUS, "token": GENEROUS, "acs": {"per_ip": GENEROUS["per_ip"]}},
        "database": {"url": link_database, "auto_upgrade": True},
        "councils.test-borough.matching": {"service_url": module_matching_stub.url,
                                           "timeout_seconds": 10, "contact": CONTACT},
    })


def instances(stack: ProcessStack) -> list[ProcessStack]:
    return [stack.at(broker.url) for broker in stack.brokers]


def all_at_once(calls) -> list:
    """Runs the calls in parallel threads, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


class PatientSession(requests.Session):
    """Fifty sign-ins at once on a small machine may queue a step for longer than the helpers'
    10 s timeout; these tests are about outcomes, not latency, so each step may take a minute."""

    def request(self, *args, **kwargs):
        kwargs["timeout"] = 60
        return super().request(*args, **kwargs)


def sign_in_across(stack: ProcessStack, rng: random.Random, pid: str | None = None) -> str:
    """One sign-in: /authorize at one instance, the ACS at the other, /token at either.
    Returns "ok" or what went wrong."""
    first, second = rng.sample(instances(stack), 2)
    browser = PatientSession()
    attempt = authorize(first, session=browser)
    if attempt.relay_state is None:
        return f"authorize {attempt.response.status_code}"
    changes = {"pid": pid} if pid else {}
    answer = post_to_acs(second, hub_messages.success(stack, attempt.authn_request_id, **changes),
                         attempt.relay_state, session=browser)
    if answer.status_code != 302:
        return f"acs {answer.status_code}"
    code = query(answer.headers["Location"]).get("code")
    tokens = PatientSession().post(
        f"{rng.choice(instances(stack)).broker_url}/token", auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": attempt.redirect_uri,
              "code_verifier": attempt.verifier})
    if tokens.status_code != 200 or "id_token" not in tokens.json():
        return f"token {tokens.status_code}"
    return "ok"


def test_500_sign_ins_at_concurrency_50_across_two_instances_all_succeed(pair):
    seeds = range(500)
    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(lambda seed: sign_in_across(pair, random.Random(seed)), seeds))
    failures = [outcome for outcome in outcomes if outcome != "ok"]
    assert failures == [], f"{len(failures)} of 500 failed: {sorted(set(failures))}"


def code_for(stack: ProcessStack):
    attempt = authorize(stack)
    answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id),
                         attempt.relay_state)
    return attempt, query(answer.headers["Location"])["code"]


def test_one_code_redeemed_by_20_parallel_requests_across_both_instances_succeeds_once(pair):
    attempt, code = code_for(pair)
    targets = [instances(pair)[i % 2] for i in range(20)]
    results = all_at_once([lambda s=s: redeem(s, code, attempt.verifier, attempt.redirect_uri)
                           for s in targets])
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1, statuses
    assert all(r.json().get("error") == "invalid_grant" for r in results if r.status_code != 200)


def test_one_saml_response_posted_to_both_instances_at_once_is_accepted_once(pair):
    attempt = authorize(pair)
    saml_response = hub_messages.success(pair, attempt.authn_request_id)
    targets = [instances(pair)[i % 2] for i in range(10)]
    results = all_at_once([lambda s=s: post_to_acs(s, saml_response, attempt.relay_state)
                           for s in targets])
    accepted = [r for r in results if r.status_code == 302 and "code=" in r.headers["Location"]]
    assert len(accepted) == 1, sorted(r.status_code for r in results)
    assert all(r.status_code == 400 for r in results if r not in accepted)


def test_the_same_resident_matched_at_both_instances_at_once_gets_one_link(pair, link_database,
                                                                         module_matching_stub):
    pid = f"race-{uuid.uuid4().hex}"
    module_matching_stub.delay = 1.0  # both sign-ins are past cycle 0 before either links
    try:
        first, second = instances(pair)
        attempts = [authorize(first), authorize(second)]
        answers = all_at_once([
            lambda s=s, a=a: post_to_acs(s, hub_messages.success(pair, a.authn_request_id, pid=pid),
                                         a.relay_state)
            for s, a in zip((first, second), attempts, strict=True)])
    finally:
        module_matching_stub.delay = 0.0
    assert [a.status_code for a in answers] == [302, 302]
    hashed = set(module_matching_stub.calls[-2:])
    assert len(hashed) == 1  # both asked the council's service about the same person
    engine = make_engine(link_database)
    try:
        links = LinkStore(engine).find("test-borough", hashed_pid=hashed.pop())
    finally:
        engine.dispose()
    assert len(links) == 1


def test_instances_answer_for_each_other_with_one_issuer(pair):
    discovery = [requests.get(f"{s.broker_url}/.well-known/openid-configuration", timeout=10).json()
                 for s in instances(pair)]
    assert discovery[0]["issuer"] == discovery[1]["issuer"] == pair.config.issuer
