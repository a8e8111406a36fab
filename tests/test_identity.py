"""The protocol-neutral model survives a trip through Redis's JSON unchanged."""

from __future__ import annotations

import json

from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import LevelOfAssurance, VerifiedIdentity


def test_verified_identity_round_trips_through_json():
    person = IDENTITIES["jane"]
    identity = VerifiedIdentity("ab" * 32, LevelOfAssurance.LEVEL_2, person.dataset,
                                "https://hub.example", 1_700_000_000, persistent_id="pid-1")
    restored = VerifiedIdentity.from_json_dict(json.loads(json.dumps(identity.to_json_dict())))
    assert restored == identity
    assert restored.persistent_id == "pid-1"


def test_persistent_id_is_not_in_the_identity_repr():
    identity = VerifiedIdentity("h", LevelOfAssurance.LEVEL_1, IDENTITIES["lee"].dataset, "i", 1,
                                persistent_id="secret-pid")
    assert "secret-pid" not in repr(identity)


def test_levelx_is_never_a_level_of_assurance():
    import pytest

    with pytest.raises(ValueError):
        LevelOfAssurance.from_uri("urn:uk:gov:cabinet-office:tc:saml:authn-context:levelX")


def test_every_field_of_every_identity_and_flow_survives_the_trip():
    """The JSON is written field by field (for speed); a field added to the model and not to
    the JSON would silently vanish between /authorize, the ACS and /token."""
    from dataclasses import fields, replace
    from datetime import date

    from broker.identity import Address, Flow, MatchingDataset, MatchingValue

    def value(text: str) -> MatchingValue:
        return MatchingValue(text, True, date(2001, 2, 3), date(2002, 3, 4))

    address = Address(("1 High St", "Town"), "AB1 2CD", "ZZ9", "100", True, date(2001, 2, 3),
                      date(2002, 3, 4))
    dataset = MatchingDataset((value("Jo"),), (value("M"),), (value("Bloggs"),),
                              (value("1980-01-01"),), value("female"), (address,),
                              (replace(address, post_code="ZZ1 1ZZ"),))
    assert all(getattr(dataset, f.name) for f in fields(MatchingDataset))  # every field set
    identity = VerifiedIdentity("ab" * 32, LevelOfAssurance.LEVEL_3, dataset, "https://hub", 17,
                                persistent_id="pid")
    written = identity.to_json_dict()
    assert set(written) == {f.name for f in fields(VerifiedIdentity)}
    assert set(written["matching_dataset"]) == {f.name for f in fields(MatchingDataset)}
    assert set(written["matching_dataset"]["gender"]) == {f.name for f in fields(MatchingValue)}
    assert set(written["matching_dataset"]["current_addresses"][0]) == {
        f.name for f in fields(Address)}
    assert VerifiedIdentity.from_json_dict(json.loads(json.dumps(written))) == identity

    flow = Flow("f", "c", {"scope": "openid"}, "_r", LevelOfAssurance.LEVEL_2, 5, "cy",
                {"k": "v"})
    flow_json = flow.to_json_dict()
    assert set(flow_json) == {f.name for f in fields(Flow)}
    assert Flow.from_json_dict(json.loads(json.dumps(flow_json))) == flow


def test_every_field_of_the_signed_in_resident_survives_the_code():
    from dataclasses import fields

    from broker.oidc.claims import SignedInResident

    resident = SignedInResident("sub", "acr", 1, ["mfa"], "sid", {"name": "Jo"},
                                {"claims": {"given_name": "Jo"}}, "acct-1")
    written = resident.to_json_dict()
    assert set(written) == {f.name for f in fields(SignedInResident)}
    assert SignedInResident.from_json_dict(json.loads(json.dumps(written))) == resident
