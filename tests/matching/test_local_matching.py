"""The council matching service client: what it sends, and how it reads every kind of answer."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
import requests
import responses

from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import Address, MatchingDataset, MatchingValue, VerifiedIdentity
from broker.matching.local_matching import (
    CreationAnswer,
    CreationResult,
    LocalMatchingClient,
    MatchAnswer,
    MatchingServiceUnavailable,
    MatchResult,
    account_creation_attributes,
    matching_dataset_json,
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


def test_request_carries_match_id_level_hashed_pid_and_the_dataset(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE)
    body = sent(service)
    assert set(body) == {"matchId", "levelOfAssurance", "hashedPid", "matchingDataset"}
    assert (body["matchId"], body["levelOfAssurance"], body["hashedPid"]) == ("match-1", "LEVEL_2",
                                                                              "c" * 64)


def test_jane_is_sent_as_verifys_adapter_sent_her(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE)
    assert sent(service)["matchingDataset"] == {
        "firstName": {"value": "Jane", "verified": True, "from": "1980-05-01T00:00:00.000Z"},
        "middleNames": {"value": "Ann", "verified": True},
        "surnames": [{"value": "Smith", "verified": True, "from": "1980-05-01T00:00:00.000Z",
                      "to": "2010-06-30T00:00:00.000Z"},
                     {"value": "Doe", "verified": True, "from": "2010-07-01T00:00:00.000Z"}],
        "dateOfBirth": {"value": "1980-05-01", "verified": True},
        "gender": {"value": "FEMALE", "verified": True},
        "addresses": [{"lines": ["1 Council Street", "Borough"], "postCode": "AB1 2CD",
                       "uprn": "100023336956", "verified": True,
                       "fromDate": "2015-06-01T00:00:00.000Z"},
                      {"lines": ["22 Old Road", "Oldtown"], "postCode": "OT9 8ZY", "verified": True,
                       "fromDate": "2005-01-01T00:00:00.000Z",
                       "toDate": "2015-05-31T00:00:00.000Z"}],
    }


def test_single_values_are_the_verified_current_one_where_there_is_history():
    dataset = MatchingDataset(
        first_names=(MatchingValue("Janet", False, date(2019, 1, 1)),
                     MatchingValue("Jane", True, date(1980, 5, 1), date(2018, 12, 31)),
                     MatchingValue("Jayne", True, date(2019, 1, 1))),
        middle_names=(MatchingValue("Old", True, date(1980, 1, 1), date(1990, 1, 1)),
                      MatchingValue("New", False)),
        dates_of_birth=(MatchingValue("1980-05-02", False), MatchingValue("1980-05-01", True)))
    sent_dataset = matching_dataset_json(dataset)
    assert sent_dataset["firstName"]["value"] == "Jayne"
    assert sent_dataset["middleNames"]["value"] == "Old"  # verified first, as the adapter chose
    assert sent_dataset["dateOfBirth"] == {"value": "1980-05-01", "verified": True}


@pytest.mark.parametrize(("given", "sent_as"), [
    ("Female", "FEMALE"), ("Male", "MALE"), ("Not Specified", "NOT_SPECIFIED")])
def test_gender_is_sent_as_the_adapters_enum(given, sent_as):
    dataset = MatchingDataset(gender=MatchingValue(given, True))
    assert matching_dataset_json(dataset)["gender"] == {"value": sent_as, "verified": True}


def test_values_the_contract_cannot_carry_are_left_out_not_invented():
    dataset = MatchingDataset(first_names=(MatchingValue("", True),),
                              dates_of_birth=(MatchingValue("not a date", True),),
                              gender=MatchingValue("Unknown", True))
    assert matching_dataset_json(dataset) == {"surnames": [], "addresses": []}


def test_an_empty_dataset_sends_empty_lists_and_nothing_else():
    assert matching_dataset_json(MatchingDataset()) == {"surnames": [], "addresses": []}


def test_an_address_without_dates_or_codes_has_only_lines_and_verified():
    dataset = MatchingDataset(previous_addresses=(Address(("Somewhere",)),))
    assert matching_dataset_json(dataset)["addresses"] == [{"lines": ["Somewhere"],
                                                           "verified": False}]


def test_request_sends_the_bearer_token(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE)
    assert service.calls[0].request.headers["Authorization"] == f"Bearer {MATCHING_TOKEN}"


def test_cycle3_answer_is_sent_as_cycle3_dataset_attributes(service):
    match_answer(service, {"result": "no-match"})
    client().match("match-1", JANE, {"council_tax_reference": "40012345"})
    assert sent(service)["cycle3Dataset"] == {"attributes": {"council_tax_reference": "40012345"}}


def test_a_bare_match_is_a_match(service):
    match_answer(service, {"result": "match"})
    assert client().match("m", JANE) == MatchAnswer(MatchResult.MATCH, None)


def test_a_match_with_a_null_local_account_id_is_a_bare_match(service):
    match_answer(service, {"result": "match", "localAccountId": None})
    assert client().match("m", JANE) == MatchAnswer(MatchResult.MATCH, None)


def test_match_returns_the_local_account_id_when_the_service_gives_one(service):
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
    '{"result": "MATCH"}', '{"result": "success"}', '{"result": "match", "localAccountId": ""}',
    '{"result": "match", "localAccountId": 42}',
    json.dumps({"result": "match", "localAccountId": "x" * 256}),
], ids=["text", "array", "string", "empty", "unknown-result", "result-list", "upper-case",
        "creation-answer", "empty-id", "numeric-id", "oversized-id"])
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


def test_account_creation_sends_the_hashed_pid_and_level_only(service):
    match_answer(service, {"result": "success"}, url=CREATION_URL)
    assert client().create_account(JANE) == CreationAnswer(CreationResult.SUCCESS, None)
    assert sent(service) == {"hashedPid": "c" * 64, "levelOfAssurance": "LEVEL_2"}


def test_account_creation_success_may_name_the_new_account(service):
    match_answer(service, {"result": "success", "localAccountId": "NEW-1"}, url=CREATION_URL)
    assert client().create_account(JANE) == CreationAnswer(CreationResult.SUCCESS, "NEW-1")


def test_account_creation_sends_attributes_only_when_given(service):
    match_answer(service, {"result": "success"}, url=CREATION_URL)
    client().create_account(JANE, {"surname": {"value": "Doe", "verified": True}})
    assert sent(service)["attributes"] == {"surname": {"value": "Doe", "verified": True}}


def test_account_creation_failure_is_a_failure(service):
    match_answer(service, {"result": "failure"}, url=CREATION_URL)
    assert client().create_account(JANE).result is CreationResult.FAILURE


@pytest.mark.parametrize("body", ['{"result": "match"}', '{"result": "Success"}', "{}",
                                  '{"result": "success", "localAccountId": 7}'])
def test_account_creation_malformed_answers_are_failures_of_the_service(service, body):
    service.add(responses.POST, CREATION_URL, body=body, status=200,
                content_type="application/json")
    with pytest.raises(MatchingServiceUnavailable):
        client().create_account(JANE)


def test_account_creation_errors_are_failures(service):
    match_answer(service, 500, 500, url=CREATION_URL)
    with pytest.raises(MatchingServiceUnavailable):
        client().create_account(JANE)


def test_account_creation_sends_only_the_configured_attributes():
    attributes = account_creation_attributes(JANE, ("surname", "date_of_birth", "cycle_3"),
                                             {"council_tax_reference": "40012345"})
    assert attributes == {
        "surname": {"value": "Doe", "verified": True, "from": "2010-07-01T00:00:00.000Z"},
        "date_of_birth": {"value": "1980-05-01", "verified": True},
        "cycle_3": {"council_tax_reference": "40012345"}}


def test_account_creation_attributes_leave_out_what_the_resident_does_not_have():
    lee = VerifiedIdentity("d" * 64, IDENTITIES["lee"].level, IDENTITIES["lee"].dataset,
                           "https://idp.example", 0)
    assert set(account_creation_attributes(lee, ("middle_name", "surname", "cycle_3"), None)) == {
        "surname"}
