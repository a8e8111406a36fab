"""The council matching service client: what it sends, and how it reads every kind of answer."""

from __future__ import annotations

import json
import time

import pytest
import requests
import responses

from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import VerifiedIdentity
from broker.matching.local_matching import (
    LocalMatchingClient,
    MatchingServiceUnavailable,
    MatchResult,
    account_creation_attributes,
)
from tests.matching.conftest import CREATION_URL, MATCHING_TOKEN, MATCHING_URL, match_answer

JANE = VerifiedIdentity(hashed_pid="c" * 64, level_of_assurance=IDENTITIES["jane"].level,
                        matching_dataset=IDENTITIES["jane"].dataset, issuer="https://idp.example",
                        authenticated_at=1_700_000_000)


@pytest.fixture
def service():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def client(timeout: float = 1.0) -> LocalMatchingClient:
    return LocalMatchingClient(MATCHING_URL, MATCHING_TOKEN, timeout, CREATION_URL,
                               backoff_seconds=0.01)


def sent(service, index: int = 0) -> dict:
    return json.loads(service.calls[index].request.body)


def test_request_carries_match_id_level_hashed_pid_and_the_whole_dataset(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE)
    body = sent(service)
    assert (body["matchId"], body["levelOfAssurance"], body["hashedPid"]) == ("match-1", "LEVEL_2",
                                                                              "c" * 64)
    assert [s["value"] for s in body["matchingDataset"]["surnames"]] == ["Smith", "Doe"]
    assert body["matchingDataset"]["surnames"][0]["to"] == "2010-06-30"
    assert [a["current"] for a in body["matchingDataset"]["addresses"]] == [True, False]
    assert "cycle3Dataset" not in body


def test_request_sends_the_bearer_token(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE)
    assert service.calls[0].request.headers["Authorization"] == f"Bearer {MATCHING_TOKEN}"


def test_cycle3_answer_is_sent_as_cycle3_dataset_attributes(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE, {"council_tax_reference": "40012345"})
    assert sent(service)["cycle3Dataset"] == {"attributes": {"council_tax_reference": "40012345"}}


def test_match_returns_the_local_account_id(service):
    match_answer(service, {"result": "match", "localAccountId": "ACC-1"})
    answer = client().match("m", JANE)
    assert (answer.result, answer.local_account_id) == (MatchResult.MATCH, "ACC-1")


def test_no_match_is_a_no_match(service):
    match_answer(service, {"result": "no-match"})
    assert client().match("m", JANE).result is MatchResult.NO_MATCH


def test_multiple_match_is_reported_as_such(service):
    match_answer(service, {"result": "multiple-match"})
    assert client().match("m", JANE).result is MatchResult.MULTIPLE_MATCH


def test_one_failure_is_retried_once(service):
    match_answer(service, 500, {"result": "match", "localAccountId": "ACC-1"})
    assert client().match("m", JANE).local_account_id == "ACC-1"
    assert len(service.calls) == 2


@pytest.mark.parametrize("failure", [
    500, 503, 404, 302,
    requests.exceptions.ConnectTimeout("connect timeout"),
    requests.exceptions.ReadTimeout("read timeout"),
    requests.exceptions.ConnectionError("connection refused"),
], ids=["500", "503", "404", "redirect", "connect-timeout", "read-timeout", "connection-refused"])
def test_two_failures_make_the_service_unavailable_not_a_no_match(service, failure):
    match_answer(service, failure, failure)
    with pytest.raises(MatchingServiceUnavailable):
        client().match("m", JANE)
    assert len(service.calls) == 2


@pytest.mark.parametrize("body", [
    "not json", "[]", '"match"', "{}", '{"result": "maybe"}', '{"result": ["match"]}',
    '{"result": "match"}', '{"result": "match", "localAccountId": ""}',
    '{"result": "match", "localAccountId": 42}',
    json.dumps({"result": "match", "localAccountId": "x" * 256}),
], ids=["text", "array", "string", "empty", "unknown-result", "result-list", "match-without-id",
        "empty-id", "numeric-id", "oversized-id"])
def test_malformed_answers_are_failures_not_no_matches(service, body):
    service.add(responses.POST, MATCHING_URL, body=body, status=200,
                content_type="application/json")
    with pytest.raises(MatchingServiceUnavailable):
        client().match("m", JANE)


def test_an_answer_slower_than_the_timeout_is_a_failure(service):
    def slow(_request):
        time.sleep(0.3)
        return 200, {}, json.dumps({"result": "match", "localAccountId": "ACC-1"})

    service.add_callback(responses.POST, MATCHING_URL, callback=slow)
    with pytest.raises(MatchingServiceUnavailable):
        client(timeout=0.2).match("m", JANE)


def test_a_slow_answer_within_the_timeout_is_used(service):
    def slow(_request):
        time.sleep(0.1)
        return 200, {}, json.dumps({"result": "no-match"})

    service.add_callback(responses.POST, MATCHING_URL, callback=slow)
    assert client(timeout=1.0).match("m", JANE).result is MatchResult.NO_MATCH


def test_the_timeout_is_passed_to_requests(service):
    match_answer(service, {"result": "no-match"})
    client(timeout=0.7).match("m", JANE)
    assert service.calls[0].request.req_kwargs["timeout"] == 0.7


def test_account_creation_success_returns_the_new_account(service):
    match_answer(service, {"result": "success", "localAccountId": "NEW-1"}, url=CREATION_URL)
    assert client().create_account(JANE, {"surname": None}) == "NEW-1"
    body = sent(service)
    assert (body["hashedPid"], body["levelOfAssurance"]) == ("c" * 64, "LEVEL_2")


def test_account_creation_failure_returns_none(service):
    match_answer(service, {"result": "failure"}, url=CREATION_URL)
    assert client().create_account(JANE, {}) is None


def test_account_creation_errors_are_failures(service):
    match_answer(service, 500, 500, url=CREATION_URL)
    with pytest.raises(MatchingServiceUnavailable):
        client().create_account(JANE, {})


def test_account_creation_sends_only_the_configured_attributes():
    attributes = account_creation_attributes(JANE, ("surname", "date_of_birth", "cycle_3"),
                                             {"council_tax_reference": "40012345"})
    assert set(attributes) == {"surname", "date_of_birth", "cycle_3"}
    assert attributes["surname"]["value"] == "Doe"
    assert attributes["date_of_birth"]["value"] == "1980-05-01"
    assert attributes["cycle_3"] == {"council_tax_reference": "40012345"}
