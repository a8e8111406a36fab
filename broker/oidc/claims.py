"""From a verified identity to OpenID Connect claims.

Standard claims follow OIDC Core 5.1 (released by scope, 5.4, or by the `claims` request
parameter, 5.5); `verified_claims` follows OpenID Connect for Identity Assurance 1.0 and holds
only the Matching Dataset values the identity provider marked as verified. What a council app
may ever receive is further limited by its configuration (`claims` in the client's entry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from broker.identity import Address, MatchingDataset, MatchingValue, VerifiedIdentity

SCOPE_CLAIMS = {
    "profile": ("given_name", "middle_name", "family_name", "birthdate"),
    "address": ("address",),
}
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS)
PERSON_CLAIMS = tuple(c for claims in SCOPE_CLAIMS.values() for c in claims)
EXTRA_CLAIMS = ("verified_claims", "local_account_id")
SUPPORTED_CLAIMS = ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                    "sid", "at_hash", *PERSON_CLAIMS, *EXTRA_CLAIMS)
MAX_CLAIMS_PARAMETER = 4096


class ClaimsRequestError(ValueError):
    """The `claims` parameter is not a valid OIDC Core 5.5 request."""


def parse_claims_request(raw: str | None) -> dict[str, dict[str, Any]]:
    """Validates the `claims` parameter; returns {"userinfo": {...}, "id_token": {...}}."""
    if not raw:
        return {}
    if len(raw) > MAX_CLAIMS_PARAMETER:
        raise ClaimsRequestError("'claims' is too long")
    try:
        request = json.loads(raw)
    except ValueError:
        raise ClaimsRequestError("'claims' is not valid JSON") from None
    if not isinstance(request, dict):
        raise ClaimsRequestError("'claims' must be a JSON object")
    parsed: dict[str, dict[str, Any]] = {}
    for target in ("userinfo", "id_token"):
        members = request.get(target) or {}
        if not isinstance(members, dict):
            raise ClaimsRequestError(f"'claims.{target}' must be a JSON object")
        for name, spec in members.items():
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestError(f"'claims.{target}.{name}' must be null or an object")
        parsed[target] = members
    return parsed


def essential_claims(claims_request: dict[str, dict[str, Any]]) -> set[str]:
    return {name for members in claims_request.values() for name, spec in members.items()
            if isinstance(spec, dict) and spec.get("essential") is True}


@dataclass
class SignedInResident:
    """The resident as the OIDC side knows them: a pairwise subject and releasable claims."""

    sub: str
    acr: str
    auth_time: int
    amr: list[str] = field(default_factory=list)
    sid: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    verified_claims: dict[str, Any] | None = None
    local_account_id: str | None = None

    def get_user_id(self) -> str:
        return self.sub

    def to_json_dict(self) -> dict[str, Any]:
        return {"sub": self.sub, "acr": self.acr, "auth_time": self.auth_time,
                "amr": list(self.amr), "sid": self.sid, "claims": self.claims,
                "verified_claims": self.verified_claims,
                "local_account_id": self.local_account_id}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> SignedInResident:
        return cls(**data)

    def released(self, scope: str, requested: dict[str, Any] | None = None,
                 allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Claims for a scope plus an explicit request, never beyond what the client may have."""
        granted = set((scope or "").split())
        names = {c for s, claims in SCOPE_CLAIMS.items() if s in granted for c in claims}
        names |= set(requested or {})
        if allowed is not None:
            names &= set(allowed)
        released: dict[str, Any] = {"sub": self.sub}
        released.update({k: v for k, v in self.claims.items() if k in names})
        if "verified_claims" in names and self.verified_claims:
            released["verified_claims"] = self.verified_claims
        if self.local_account_id and (allowed is None or "local_account_id" in allowed):
            # The council's own record: always released to that council's clients once matched.
            released["local_account_id"] = self.local_account_id
        return released


def _address_claim(address: Address) -> dict[str, str]:
    claim = {}
    if address.lines:
        claim["street_address"] = "\n".join(address.lines)
    post_code = address.post_code or address.international_post_code
    if post_code:
        claim["postal_code"] = post_code
    claim["country"] = "GB" if address.post_code else ""
    if not claim["country"]:
        del claim["country"]
    claim["formatted"] = "\n".join([*address.lines, *([post_code] if post_code else [])])
    return claim


def _person_claims(dataset: MatchingDataset, verified_only: bool) -> dict[str, Any]:
    def pick(values: tuple[MatchingValue, ...]) -> MatchingValue | None:
        if verified_only:
            values = tuple(v for v in values if v.verified)
        current = MatchingDataset.current(values)
        return current if current and current.value else None

    claims: dict[str, Any] = {}
    for name, values in (("given_name", dataset.first_names),
                         ("middle_name", dataset.middle_names),
                         ("family_name", dataset.surnames),
                         ("birthdate", dataset.dates_of_birth)):
        value = pick(values)
        if value:
            claims[name] = value.value
    address = dataset.current_address()
    if address and (address.verified or not verified_only):
        claims["address"] = _address_claim(address)
    return claims


def resident_claims(dataset: MatchingDataset) -> dict[str, Any]:
    return _person_claims(dataset, verified_only=False)


def amr_for(identity: VerifiedIdentity) -> list[str]:
    """RFC 8176 values: Verify's LEVEL_2 and above require a second factor."""
    return ["mfa"] if identity.level_of_assurance.value >= 2 else ["pwd"]


def signed_in_resident(identity: VerifiedIdentity, sid: str | None = None,
                       trust_framework: str = "uk_tfida",
                       local_account_id: str | None = None) -> SignedInResident:
    verified = _person_claims(identity.matching_dataset, verified_only=True)
    verified_claims = {
        "verification": {
            "trust_framework": trust_framework,
            "assurance_level": identity.level_of_assurance.name,
            "time": datetime.fromtimestamp(identity.authenticated_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"),
        },
        "claims": verified,
    } if verified else None
    return SignedInResident(sub=identity.hashed_pid, acr=identity.level_of_assurance.uri,
                            auth_time=identity.authenticated_at, amr=amr_for(identity), sid=sid,
                            claims=resident_claims(identity.matching_dataset),
                            verified_claims=verified_claims, local_account_id=local_account_id)
