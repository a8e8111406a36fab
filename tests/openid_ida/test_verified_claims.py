"""OIDC4IDA `verified_claims`: asked for claim by claim, read into Verify's Matching Dataset, and
given a level only by the operator's mapping."""

from __future__ import annotations

import copy

import pytest

from broker.config import AssuranceRule, OpenIdIdaConfig
from broker.identity import LevelOfAssurance
from broker.openid_ida.verified_claims import (
    VerifiedClaimsRejected,
    claims_request,
    read_verified_claims,
)
from broker.upstreams.interface import FailureKind

RULES = (
    AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_2, assurance_level="medium"),
    AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_1, assurance_level="low"),
    AssuranceRule("de_aml", LevelOfAssurance.LEVEL_1, evidence=("document",)),
)

MEDIUM = {
    "verification": {"trust_framework": "uk_tfida", "assurance_level": "medium",
                     "time": "2026-11-01T10:00Z",
                     "evidence": [{"type": "document", "check_details": [{"check_method": "vpip"}]}]},
    "claims": {"given_name": "Jane", "family_name": "Doe", "birth_family_name": "Smith",
               "birthdate": "1980-02-29",
               "address": {"street_address": "1 Council Street\nFlat 2", "locality": "Borough",
                           "postal_code": "AB1 2CD", "country": "GB"}},
}


def config(**changes) -> OpenIdIdaConfig:
    values = {"issuer": "https://idp.test", "client_id": "broker", "client_auth":
              "client_secret_basic", "client_secret": "s" * 20, "levels": RULES}
    return OpenIdIdaConfig(**{**values, **changes})


def test_trust_framework_and_assurance_level_give_the_configured_level():
    proven = read_verified_claims(MEDIUM, RULES)

    assert proven.level is LevelOfAssurance.LEVEL_2
    dataset = proven.dataset
    assert [v.value for v in dataset.first_names] == ["Jane"]
    assert [v.value for v in dataset.surnames] == ["Doe", "Smith"]
    assert dataset.current(dataset.surnames).value == "Doe"
    assert [v.value for v in dataset.dates_of_birth] == ["1980-02-29"]
    assert all(v.verified for v in (*dataset.first_names, *dataset.surnames))
    address = dataset.current_address()
    assert address.lines == ("1 Council Street", "Flat 2", "Borough")
    assert address.post_code == "AB1 2CD" and address.verified


def test_a_trust_framework_the_mapping_does_not_name_proves_nothing():
    unknown = copy.deepcopy(MEDIUM)
    unknown["verification"]["trust_framework"] = "uk_tfida_but_not"

    assert read_verified_claims(unknown, RULES) is None


def test_an_assurance_level_the_mapping_does_not_name_proves_nothing():
    high = copy.deepcopy(MEDIUM)
    high["verification"]["assurance_level"] = "very-high-trust-me"

    assert read_verified_claims(high, RULES) is None


def test_a_rule_with_evidence_needs_evidence_of_that_type():
    aml = {"verification": {"trust_framework": "de_aml"}, "claims": {"family_name": "Meier"}}
    assert read_verified_claims(aml, RULES) is None

    aml["verification"]["evidence"] = [{"type": "electronic_record"}]
    assert read_verified_claims(aml, RULES) is None

    aml["verification"]["evidence"] = [{"type": "document"}]
    assert read_verified_claims(aml, RULES).level is LevelOfAssurance.LEVEL_1


def test_no_verified_claims_is_no_proven_identity():
    assert read_verified_claims(None, RULES) is None


def test_of_an_array_the_best_level_counts_and_lower_ones_give_no_data():
    low = {"verification": {"trust_framework": "uk_tfida", "assurance_level": "low"},
           "claims": {"given_name": "Someone", "family_name": "Else"}}
    proven = read_verified_claims([low, MEDIUM], RULES)

    assert proven.level is LevelOfAssurance.LEVEL_2
    assert [v.value for v in proven.dataset.first_names] == ["Jane"]


def test_addresses_of_several_verifications_are_history_newest_current():
    older = {"verification": {"trust_framework": "uk_tfida", "assurance_level": "medium",
                              "time": "2019-03-01T09:00:00Z"},
             "claims": {"family_name": "Doe",
                        "address": {"formatted": "9 Old Road\nOldtown\nOT9 8ZY",
                                    "postal_code": "OT9 8ZY"}}}
    proven = read_verified_claims([older, MEDIUM], RULES)

    assert proven.dataset.current_address().post_code == "AB1 2CD"
    assert [a.lines for a in proven.dataset.previous_addresses] == [("9 Old Road", "Oldtown")]


def test_a_postcode_abroad_is_an_international_postcode():
    abroad = copy.deepcopy(MEDIUM)
    abroad["claims"]["address"] = {"street_address": "An der Weide 22", "locality": "Maxstadt",
                                   "postal_code": "12344", "country": "DE"}
    address = read_verified_claims(abroad, RULES).dataset.current_address()

    assert address.post_code is None and address.international_post_code == "12344"


@pytest.mark.parametrize("spoil", [
    lambda v: v.pop("verification"),
    lambda v: v["verification"].pop("trust_framework"),
    lambda v: v.update(claims="Jane Doe"),
    lambda v: v["claims"].update(birthdate="29/02/1980"),
    lambda v: v["claims"].update(given_name=["Jane"]),
    lambda v: v["claims"].update(family_name="x" * 5000),
    lambda v: v["verification"].update(evidence=[{"check_details": []}]),
    lambda v: v["verification"].update(time="yesterday"),
    lambda v: v["claims"].update(address={}),
], ids=["no verification", "no trust framework", "claims not an object", "birthdate format",
        "name not a string", "oversized name", "evidence without type", "time not a date-time",
        "empty address"])
def test_verified_claims_outside_the_schema_are_rejected(spoil):
    spoiled = copy.deepcopy(MEDIUM)
    spoil(spoiled)

    with pytest.raises(VerifiedClaimsRejected):
        read_verified_claims(spoiled, RULES)


def test_too_many_verified_claims_objects_are_rejected():
    with pytest.raises(VerifiedClaimsRejected):
        read_verified_claims([MEDIUM] * 11, RULES)


def test_verified_claims_that_prove_no_name_and_no_birthdate_are_rejected():
    empty = copy.deepcopy(MEDIUM)
    empty["claims"] = {"address": MEDIUM["claims"]["address"]}

    with pytest.raises(VerifiedClaimsRejected):
        read_verified_claims(empty, RULES)


def test_an_impossible_birthdate_is_rejected():
    impossible = copy.deepcopy(MEDIUM)
    impossible["claims"]["birthdate"] = "1981-02-29"

    with pytest.raises(VerifiedClaimsRejected):
        read_verified_claims(impossible, RULES)


def test_an_empty_claim_is_taken_as_absent():
    """OpenID Connect Core 5.3.2 asks providers to omit a claim rather than send it empty; one
    that sends an empty middle name has still proved the rest."""
    empty = copy.deepcopy(MEDIUM)
    empty["claims"]["middle_name"] = ""
    proven = read_verified_claims(empty, RULES)

    assert proven.dataset.middle_names == () and proven.level is LevelOfAssurance.LEVEL_2


def test_unknown_members_are_ignored_as_the_schema_definition_says():
    extended = copy.deepcopy(MEDIUM)
    extended["verification"]["assurance_process"] = {"policy": "gpg45", "procedure": "m1c"}
    extended["verification"]["vendor_extension"] = {"anything": [1, 2]}
    extended["claims"]["place_of_birth"] = {"country": "GB"}

    assert read_verified_claims(extended, RULES).level is LevelOfAssurance.LEVEL_2


def test_the_claims_request_asks_claim_by_claim_for_frameworks_the_mapping_knows():
    request = claims_request(config(), LevelOfAssurance.LEVEL_2)

    verified = request["userinfo"]["verified_claims"]
    assert verified["verification"]["trust_framework"] == {"values": ["uk_tfida"]}
    assert verified["verification"]["assurance_level"] == {"values": ["medium"]}
    assert verified["claims"] == {"given_name": None, "family_name": None, "birthdate": None,
                                  "address": None}
    assert request["id_token"]["auth_time"] == {"essential": True}


def test_the_claims_request_can_ask_in_the_id_token():
    request = claims_request(config(verified_claims_in="id_token"), LevelOfAssurance.LEVEL_1)

    assert "verified_claims" in request["id_token"] and "userinfo" not in request
    assert request["id_token"]["verified_claims"]["verification"]["trust_framework"] == {
        "values": ["de_aml", "uk_tfida"]}


def test_no_claims_request_for_a_level_no_rule_reaches():
    assert claims_request(config(), LevelOfAssurance.LEVEL_3) is None


def test_the_configured_failure_kinds_are_the_interface_kinds():
    from broker.config import FAILURE_KINDS

    assert set(FAILURE_KINDS) == {kind.value for kind in FailureKind}
