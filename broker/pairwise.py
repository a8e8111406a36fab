"""The pairwise persistent identifier a council sees: the PID hashed per relying party (GOV.UK
Verify's formula). Protocol-neutral: the hub side hashes a fresh answer, the broker session
hashes again for each council reached by single sign-on."""

from __future__ import annotations

import hashlib

from broker.identity import LevelOfAssurance


def hash_pid(idp_entity_id: str, rp_entity_id: str, pid: str,
             level: LevelOfAssurance) -> str:
    """hex(SHA-256(idp_entity_id + rp_entity_id + pid [+ level name unless LEVEL_2])).

    The identity provider is the one that authenticated the resident (the Matching Dataset
    assertion's Issuer); the relying party is the council (its `hashing_entity_id`, by default its
    entity id), so the same resident gets unlinkable identifiers at different councils, and a
    different one at a different level.
    """
    material = idp_entity_id + rp_entity_id + pid
    if level is not LevelOfAssurance.LEVEL_2:
        material += level.name
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
