"""From a verified identity to OpenID Connect claims, and which of them a council app receives.

Standard claims follow OIDC Core 5.1; `verified_claims` follows OpenID Connect for Identity
Assurance 1.0 and holds only the Matching Dataset values the identity provider marked verified.

Release (data minimisation): a claim is released only when it was asked for and the client's
registered scopes **and** its `claims` allow-list both permit it, whichever way it was asked for
(a scope value, the `claims` request parameter, or inside `verified_claims` claim by claim).
Where it goes follows OIDC Core 5.4 for the code flow: claims asked for by scope values come
from /userinfo only; the ID token carries personal data only when the `claims` parameter's
`id_token` member asks for it, so an ID token passed as `id_token_hint` in a logout URL holds
none by default. `verified_claims` is answered per claim (IDA 1.0 section 6): only the claims
named in its `claims` member, and in `verification` the trust framework plus the elements named.
Why: docs/adr/0016-claims-release-and-the-id-token.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from broker.claims_catalogue import SCOPE_CLAIMS, SCOPE_OF_CLAIM, VERIFICATION_ELEMENTS
from broker.identity import Address, MatchingDataset, MatchingValue, VerifiedIdentity

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
            if name == "verified_claims":
                _check_verified_claims_request(spec, f"claims.{target}.verified_claims")
            elif spec is not None and not isinstance(spec, dict):
                raise ClaimsRequestError(f"'claims.{target}.{name}' must be null or an object")
        parsed[target] = members
    return parsed


def _check_verified_claims_request(spec: Any, where: str) -> None:
    """IDA 1.0 section 6: null, an object with `verification` and `claims`, or a list of them."""
    for item in spec if isinstance(spec, list) else [spec]:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise ClaimsRequestError(f"'{where}' must be null, an object or a list of objects")
        for member in ("verification", "claims"):
            value = item.get(member)
            if value is not None and not isinstance(value, dict):
                raise ClaimsRequestError(f"'{where}.{member}' must be null or an object")
        for claim_spec in (item.get("claims") or {}).values():
            if claim_spec is not None and not isinstance(claim_spec, dict):
                raise ClaimsRequestError(f"'{where}.claims' members must be null or objects")


@dataclass(frozen=True)
class VerifiedClaimsRequest:
    """What a `verified_claims` request names: None means every claim (a bare `null` request)."""

    claims: frozenset[str] | None
    verification: frozenset[str]

    @classmethod
    def parse(cls, spec: Any) -> VerifiedClaimsRequest:
        if spec is None:
            return cls(None, frozenset(VERIFICATION_ELEMENTS))
        claims: set[str] = set()
        verification: set[str] = set()
        for item in spec if isinstance(spec, list) else [spec]:
            if item is None or not isinstance(item.get("claims"), dict):
                return cls(None, frozenset(VERIFICATION_ELEMENTS))
            claims |= set(item["claims"])
            verification |= set(item.get("verification") or {})
        return cls(frozenset(claims), frozenset(verification))


@dataclass(frozen=True)
class ClaimsEntitlement:
    """What one council app may ever receive: its registered scopes and its `claims` allow-list
    (None: no allow-list, the scopes alone decide)."""

    scopes: tuple[str, ...]
    allowed: tuple[str, ...] | None = None

    def permits(self, claim: str) -> bool:
        if self.allowed is not None and claim not in self.allowed:
            return False
        scope = SCOPE_OF_CLAIM.get(claim)
        return scope is None or scope in self.scopes


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

    def released(self, target: str, scope: str, claims_request: dict[str, dict[str, Any]],
                 entitlement: ClaimsEntitlement) -> dict[str, Any]:
        """The claims for `target` ("userinfo" or "id_token"): asked for, and permitted."""
        requested = claims_request.get(target) or {}
        names = set(requested)
        if target == "userinfo":  # OIDC Core 5.4: scope claims come from the UserInfo endpoint
            granted = set((scope or "").split())
            names |= {c for s, claims in SCOPE_CLAIMS.items() if s in granted for c in claims}
        released: dict[str, Any] = {"sub": self.sub}
        released.update({name: value for name, value in self.claims.items()
                         if name in names and entitlement.permits(name)})
        if "verified_claims" in requested and entitlement.permits("verified_claims"):
            verified = self.verified_claims_for(
                VerifiedClaimsRequest.parse(requested["verified_claims"]), entitlement)
            if verified:
                released["verified_claims"] = verified
        if self.local_account_id and entitlement.permits("local_account_id"):
            # The council's own record, not the hub's data: released once matched.
            released["local_account_id"] = self.local_account_id
        return released

    def verified_claims_for(self, request: VerifiedClaimsRequest,
                            entitlement: ClaimsEntitlement) -> dict[str, Any] | None:
        if not self.verified_claims:
            return None
        claims = {name: value for name, value in self.verified_claims["claims"].items()
                  if (request.claims is None or name in request.claims)
                  and entitlement.permits(name)}
        if not claims:
            return None
        verification = self.verified_claims["verification"]
        return {"verification": {name: value for name, value in verification.items()
                                 if name == "trust_framework" or name in request.verification},
                "claims": claims}


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
