"""The hashed persistent identifier: hex(SHA-256(idp_entity_id + rp_entity_id + pid)), with the
level's name appended unless it is LEVEL_2 (docs/architecture.md section 3; docs/adr/0003: the relying
party is the council's entity id). Expected values were computed independently with
`printf '%s' '<input>' | sha256sum`."""

from __future__ import annotations

from broker.identity import LevelOfAssurance
from broker.pairwise import hash_pid

IDP = "https://idp.example/saml"
COUNCIL = "https://test-borough.example.gov.uk"


def test_level_2_hashes_without_a_level_suffix():
    assert hash_pid(IDP, COUNCIL, "pid-123", LevelOfAssurance.LEVEL_2) == \
        "b648e3560efe10b25654084dc908002b1c0c25b425bd2d1e8c484eb55c7397c7"


def test_level_1_appends_the_level_name():
    assert hash_pid(IDP, COUNCIL, "pid-123", LevelOfAssurance.LEVEL_1) == \
        "64bbc900153c54d21b7f91f60028ccd9d67f3bc2572a88cce7f184ca36cb9186"


def test_level_3_appends_the_level_name():
    assert hash_pid(IDP, COUNCIL, "pid-123", LevelOfAssurance.LEVEL_3) == \
        "ffec99c8d99c641080035dcdc129a7c32ea365322ccd9bdbccc8190ea181fea7"


def test_another_council_gets_an_unlinkable_identifier():
    assert hash_pid(IDP, "https://other-council.example.gov.uk", "pid-123",
                    LevelOfAssurance.LEVEL_2) == \
        "6994347779b656a872bc6dd3b9a9f79b4efd15bc820398d74874977e7a0ab330"


def test_input_is_hashed_as_utf8():
    assert hash_pid(IDP, COUNCIL, "pïd-ü", LevelOfAssurance.LEVEL_2) == \
        "9c6417c1abddd99d9abbf6d32e3725ce650b6fbb97a51802ebf7e26a72071d09"
