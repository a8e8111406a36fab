"""From a verified identity to OpenID Connect claims (OIDC Core section 5.1).

What the council app receives is decided once, when the code is issued, and stored with it; the
ID token and /userinfo then release only what the granted scopes allow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from broker.identity import Address, MatchingDataset, VerifiedIdentity

SCOPE_CLAIMS = {
    "profile": ("given_name", "middle_name", "family_name", "birthdate"),
    "address": ("address",),
}
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS)
SUPPORTED_CLAIMS = ("sub", "acr", "auth_time", "nonce", "iss", "aud",
                    *(c for claims in SCOPE_CLAIMS.values() for c in claims))


@dataclass
class SignedInResident:
    """The resident as the OIDC side knows them: a pairwise subject and releasable claims."""

    sub: str
    acr: str
    auth_time: int
    claims: dict[str, Any] = field(default_factory=dict)

    def get_user_id(self) -> str:
        return self.sub

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> SignedInResident:
        return cls(**data)

    def released(self, scope: str) -> dict[str, Any]:
        granted = set((scope or "").split())
        names = {c for s, claims in SCOPE_CLAIMS.items() if s in granted for c in claims}
        return {"sub": self.sub, **{k: v for k, v in self.claims.items() if k in names}}


def _address_claim(address: Address) -> dict[str, str]:
    claim = {}
    if address.lines:
        claim["street_address"] = "\n".join(address.lines)
    post_code = address.post_code or address.international_post_code
    if post_code:
        claim["postal_code"] = post_code
    claim["formatted"] = "\n".join([*address.lines, *([post_code] if post_code else [])])
    return claim


def resident_claims(dataset: MatchingDataset) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for name, values in (("given_name", dataset.first_names),
                         ("middle_name", dataset.middle_names),
                         ("family_name", dataset.surnames),
                         ("birthdate", dataset.dates_of_birth)):
        current = MatchingDataset.current(values)
        if current and current.value:
            claims[name] = current.value
    address = dataset.current_address()
    if address:
        claims["address"] = _address_claim(address)
    return claims


def signed_in_resident(identity: VerifiedIdentity) -> SignedInResident:
    return SignedInResident(sub=identity.hashed_pid, acr=identity.level_of_assurance.uri,
                            auth_time=identity.authenticated_at,
                            claims=resident_claims(identity.matching_dataset))
