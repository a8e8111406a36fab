"""Every request the broker sends a council's matching service follows GOV.UK Verify's contract:
the legacy JSON schema (and the universal one where a council chose it), checked with a schema
written from Verify's documentation, for cycle 1, cycle 3 and account creation, with full,
partial and empty Matching Datasets, as they leave the client on the wire."""

from __future__ import annotations

import json
from datetime import date

import pytest
import responses

from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import (
    Address,
    LevelOfAssurance,
    MatchingDataset,
    MatchingValue,
    VerifiedIdentity,
)
from broker.matching.local_matching import (
    DatasetSchema,
    LocalMatchingClient,
    account_creation_attributes,
)
from tests.matching.conftest import CREATION_URL, MATCHING_URL
from tests.matching.verify_contract import assert_follows, violations

FULL = MatchingDataset(
    first_names=(MatchingValue("Janet", False, date(2019, 1, 1)),
                 MatchingValue("Jane", True, date(1980, 5, 1), date(2018, 12, 31)),
                 MatchingValue("Jayne", True, date(2019, 1, 1))),
    middle_names=(MatchingValue("Ann", True, date(1980, 5, 1)),),
    surnames=(MatchingValue("Smith", True, date(1980, 5, 1), date(2010, 6, 30)),
              MatchingValue("Doe", True, date(2010, 7, 1))),
    dates_of_birth=(MatchingValue("1980-05-01", True),),
    gender=MatchingValue("Female", True, date(1980, 5, 1)),
    current_addresses=(Address(("Flat 1", "1 Council Street", "Borough"), "AB1 2CD", "AB1-2CD",
                               "100023336956", True, date(2015, 6, 1)),),
    previous_addresses=(Address(("22 Old Road",), "OT9 8ZY", None, None, True, date(2005, 1, 1),
                                date(2015, 5, 31)),
                        Address(("Rue de la Paix 3", "Paris"), None, "75002", None, False, None,
                                date(2004, 12, 31))),
)
PARTIAL = MatchingDataset(
    first_names=(MatchingValue("Lee"),),
    surnames=(MatchingValue("One"),),
    dates_of_birth=(MatchingValue("1992-11-30"),),
    current_addresses=(Address(("5 High Street",), "CD3 4EF"),),
)
EMPTY = MatchingDataset()

DATASETS = {"full": FULL, "partial": PARTIAL, "empty": EMPTY,
            **{f"stub-{key}": identity.dataset for key, identity in IDENTITIES.items()}}


def identity(dataset: MatchingDataset, level=LevelOfAssurance.LEVEL_2) -> VerifiedIdentity:
    return VerifiedIdentity("f" * 64, level, dataset, "https://idp.example", 1_700_000_000)


@pytest.fixture
def service():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.POST, MATCHING_URL, json={"result": "no-match"})
        mock.add(responses.POST, CREATION_URL, json={"result": "success"})
        yield mock


def client(schema: DatasetSchema = DatasetSchema.LEGACY) -> LocalMatchingClient:
    return LocalMatchingClient(MATCHING_URL, None, 2, CREATION_URL, dataset_schema=schema)


def on_the_wire(service) -> dict:
    return json.loads(service.calls[-1].request.body)


def nulls(value, path="") -> list[str]:
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in nulls(item, f"{path}/{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in nulls(item, f"{path}/{i}")]
    return []


@pytest.mark.parametrize("level", list(LevelOfAssurance), ids=lambda level: level.name)
@pytest.mark.parametrize("dataset", DATASETS.values(), ids=DATASETS.keys())
def test_cycle1_request_follows_the_legacy_schema(service, dataset, level):
    client().match("match-1", identity(dataset, level))
    body = on_the_wire(service)
    assert_follows("legacyMatchRequest", body)
    assert "cycle3Dataset" not in body
    assert nulls(body) == []


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=DATASETS.keys())
def test_cycle3_request_follows_the_legacy_schema(service, dataset):
    client().match("match-1", identity(dataset), {"council_tax_reference": "40012345"})
    body = on_the_wire(service)
    assert_follows("legacyMatchRequest", body)
    assert body["cycle3Dataset"] == {"attributes": {"council_tax_reference": "40012345"}}
    assert nulls(body) == []


@pytest.mark.parametrize("level", list(LevelOfAssurance), ids=lambda level: level.name)
@pytest.mark.parametrize("dataset", DATASETS.values(), ids=DATASETS.keys())
def test_account_creation_request_is_exactly_verifys(service, dataset, level):
    client().create_account(identity(dataset, level))
    body = on_the_wire(service)
    assert_follows("accountCreationRequest", body)
    assert body == {"hashedPid": "f" * 64, "levelOfAssurance": level.name}


@pytest.mark.parametrize("dataset", DATASETS.values(), ids=DATASETS.keys())
def test_universal_schema_requests_follow_the_universal_schema(service, dataset):
    client(DatasetSchema.UNIVERSAL).match("match-1", identity(dataset), {"nino": "QQ123456C"})
    body = on_the_wire(service)
    assert_follows("universalMatchRequest", body)
    assert nulls(body) == []


def test_universal_addresses_are_what_the_legacy_schema_refuses(service):
    client(DatasetSchema.UNIVERSAL).match("match-1", identity(FULL))
    body = on_the_wire(service)
    assert body["matchingDataset"]["addresses"][1]["to"] == "2015-05-31T00:00:00.000Z"
    assert violations("legacyMatchRequest", body)


def test_opted_in_account_creation_attributes_are_the_only_addition(service):
    attributes = account_creation_attributes(
        identity(FULL), ("first_name", "middle_name", "surname", "date_of_birth",
                         "current_address", "address_history", "cycle_3"), {"nino": "QQ123456C"})
    client().create_account(identity(FULL), attributes)
    body = on_the_wire(service)
    assert_follows("accountCreationRequest", {k: v for k, v in body.items() if k != "attributes"})
    sent = body["attributes"]
    assert_follows("textValue", sent["first_name"])
    assert_follows("textValue", sent["surname"])
    assert_follows("dateOfBirth", sent["date_of_birth"])
    assert_follows("legacyAddress", sent["current_address"])
    for address in sent["address_history"]:
        assert_follows("legacyAddress", address)
    assert sent["cycle_3"] == {"nino": "QQ123456C"}
    assert nulls(body) == []


def test_the_schema_refuses_the_shape_the_broker_used_to_send():
    """The schema is strict enough to have caught the old request (plural names, nulls, a
    `current` flag, `Female`), so the tests above would fail without the legacy encoding."""
    old = {"matchId": "m", "levelOfAssurance": "LEVEL_2", "hashedPid": "f" * 64,
           "matchingDataset": {
               "firstNames": [{"value": "Jane", "verified": True, "from": "1980-05-01", "to": None}],
               "surnames": [{"value": "Doe", "verified": True, "from": "2010-07-01", "to": None}],
               "datesOfBirth": [{"value": "1980-05-01", "verified": True}],
               "gender": {"value": "Female", "verified": True},
               "addresses": [{"lines": ["1 Council Street"], "postCode": "AB1 2CD",
                              "internationalPostCode": None, "uprn": None, "verified": True,
                              "from": "2015-06-01", "to": None, "current": True}]}}
    problems = "\n".join(violations("legacyMatchRequest", old))
    for broken in ("firstNames", "datesOfBirth", "'Female'", "None is not of type",
                   "'current'", "'2010-07-01' does not match"):
        assert broken in problems, broken


def test_the_schema_accepts_a_request_in_the_documented_formats():
    """Dates with milliseconds in UTC, a date of birth as a date, cycle 3 as attributes."""
    example = {
        "matchId": "a1b2c3", "levelOfAssurance": "LEVEL_1", "hashedPid": "9e1d",
        "cycle3Dataset": {"attributes": {"NI": "QQ123456C"}},
        "matchingDataset": {
            "firstName": {"value": "Ada", "from": "2001-02-03T04:05:06.789Z",
                          "to": "2002-02-03T04:05:06.789Z", "verified": True},
            "surnames": [{"value": "Byron", "from": "2001-02-03T00:00:00.000Z", "verified": True}],
            "gender": {"value": "NOT_SPECIFIED", "verified": False},
            "dateOfBirth": {"value": "1815-12-10", "verified": True},
            "addresses": [{"verified": True, "fromDate": "2001-02-03T00:00:00.000Z",
                           "postCode": "W1 1AA", "lines": []}]}}
    assert_follows("legacyMatchRequest", example)
    assert_follows("accountCreationRequest", {"hashedPid": "9e1d", "levelOfAssurance": "LEVEL_1"})
