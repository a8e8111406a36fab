"""The protocol-neutral model survives a trip through Redis's JSON unchanged (every place it is
stored: tests/journey/test_identity_storage.py)."""

from __future__ import annotations

import json

from broker.codec import decode, encode
from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import LevelOfAssurance, VerifiedIdentity


def test_verified_identity_round_trips_through_json():
    person = IDENTITIES["jane"]
    identity = VerifiedIdentity("ab" * 32, LevelOfAssurance.LEVEL_2, person.dataset,
                                "https://hub.example", 1_700_000_000, persistent_id="pid-1")
    restored = decode(VerifiedIdentity, json.loads(json.dumps(encode(identity))))
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


def test_every_field_of_the_signed_in_resident_survives_the_code():
    from dataclasses import fields

    from broker.oidc.claims import SignedInResident

    resident = SignedInResident("sub", "acr", 1, ["mfa"], "sid", {"name": "Jo"},
                                {"claims": {"given_name": "Jo"}}, "acct-1")
    written = resident.to_json_dict()
    assert set(written) == {f.name for f in fields(SignedInResident)}
    assert SignedInResident.from_json_dict(json.loads(json.dumps(written))) == resident
