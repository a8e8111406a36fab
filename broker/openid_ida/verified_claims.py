"""`verified_claims` (OpenID Connect for Identity Assurance 1.0): how the broker asks for them and
how it reads them into Verify's Matching Dataset and a level of assurance.

Asking (OIDC4IDA section 5.3, 5.4, 5.5.1): claim by claim through the `claims` request parameter,
in `userinfo` or `id_token` as configured, with `trust_framework` (and `assurance_level`, when
every rule that could satisfy the flow names one) limited by `values` to what the operator's
level mapping knows, so that a provider omits what the broker could not use anyway.

Reading: the answer is validated against the broker's JSON schema of the element
(`verified_claims.schema.json`, written from OpenID Identity Assurance Schema Definition 1.0
section 5; unknown members are ignored, as section 5.2 says), then every `verified_claims`
object is given the level of the first rule of the operator's mapping that fits its
`verification`. An object no rule fits is ignored (section 5.5: recipients should ignore a trust
framework they do not understand); the resident's level is the best level proved, and their
Matching Dataset is built only from the objects that prove it. Nothing is guessed: a trust
framework or assurance level the mapping does not name proves nothing.

History where given: several objects at the best level may carry different addresses; the one
verified most recently (`verification.time`) is current and the others previous. A
`birth_family_name` that differs from `family_name` is kept as an earlier surname.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator

from broker.config import AssuranceRule, OpenIdIdaConfig
from broker.identity import Address, LevelOfAssurance, MatchingDataset, MatchingValue

SCHEMA_FILE = "verified_claims.schema.json"


class VerifiedClaimsRejected(Exception):
    """The `verified_claims` element is malformed; the message says where (no personal data)."""


@dataclass(frozen=True)
class ProvenIdentity:
    level: LevelOfAssurance
    dataset: MatchingDataset


def claims_request(config: OpenIdIdaConfig, minimum: LevelOfAssurance) -> dict[str, Any] | None:
    """The `claims` request parameter (OpenID Connect Core 5.5) asking for `verified_claims`
    that could prove at least `minimum`; None when no rule of the mapping reaches it."""
    rules = [rule for rule in config.levels if rule.level.value >= minimum.value]
    if not rules:
        return None
    verification: dict[str, Any] = {
        "trust_framework": {"values": sorted({rule.trust_framework for rule in rules})}}
    if all(rule.assurance_level for rule in rules):
        verification["assurance_level"] = {
            "values": sorted({rule.assurance_level for rule in rules if rule.assurance_level})}
    else:
        verification["assurance_level"] = None
    verification["time"] = None
    if any(rule.evidence for rule in rules):
        verification["evidence"] = [{"type": {"value": kind}}
                                    for kind in sorted({e for rule in rules for e in rule.evidence})]
    request = {"verified_claims": {"verification": verification,
                                   "claims": {claim: None for claim in config.claims}}}
    target = {config.verified_claims_in: request}
    target.setdefault("id_token", {})["auth_time"] = {"essential": True}
    return target


@cache
def _validator() -> Draft202012Validator:
    schema = json.loads(files("broker.openid_ida").joinpath(SCHEMA_FILE).read_text("utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(value: Any) -> list[dict[str, Any]]:
    """The element as a list of `verified_claims` objects (it may be one object or an array,
    OIDC4IDA schema section 5.1); VerifiedClaimsRejected when it does not fit the schema."""
    items = value if isinstance(value, list) else [value]
    error = next(iter(sorted(_validator().iter_errors(items), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "(element)"
        raise VerifiedClaimsRejected(f"verified_claims at {where}: {error.validator} "
                                     f"check failed")
    return items


def rule_for(verification: dict[str, Any], rules: tuple[AssuranceRule, ...]
             ) -> AssuranceRule | None:
    """The first rule of the operator's mapping this verification satisfies, if any."""
    kinds = {item["type"] for item in verification.get("evidence") or ()}
    for rule in rules:
        if rule.trust_framework != verification["trust_framework"]:
            continue
        if rule.assurance_level is not None and rule.assurance_level != verification.get(
                "assurance_level"):
            continue
        if rule.evidence and not kinds.intersection(rule.evidence):
            continue
        return rule
    return None


def read_verified_claims(value: Any, rules: tuple[AssuranceRule, ...]) -> ProvenIdentity | None:
    """The resident's best proven level and their dataset from the objects that prove it; None
    when no object is under a rule of the mapping (identity not proven, for the broker)."""
    if value is None:
        return None
    items = validate(value)
    proven = [(rule.level, item) for item in items
              if (rule := rule_for(item["verification"], rules)) is not None]
    if not proven:
        return None
    best = max(level.value for level, _ in proven)
    chosen = [item for level, item in proven if level.value == best]
    chosen.sort(key=lambda item: _verified_at(item["verification"]), reverse=True)
    dataset = _dataset(chosen)
    if not dataset.surnames and not dataset.first_names and not dataset.dates_of_birth:
        raise VerifiedClaimsRejected("verified_claims prove no name and no date of birth")
    return ProvenIdentity(LevelOfAssurance(best), dataset)


def _verified_at(verification: dict[str, Any]) -> float:
    text = verification.get("time")
    if not text:
        return float("-inf")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise VerifiedClaimsRejected("verified_claims at verification/time: not a date-time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def _values(items: list[dict[str, Any]], *names: str) -> tuple[MatchingValue, ...]:
    """Distinct values of the named claims in order (newest verification first)."""
    seen: list[str] = []
    for item in items:
        for name in names:
            text = item["claims"].get(name)
            if text and text.strip() and text.strip() not in seen:
                seen.append(text.strip())
    return tuple(MatchingValue(text, verified=True) for text in seen)


def _birthdates(items: list[dict[str, Any]]) -> tuple[MatchingValue, ...]:
    values = _values(items, "birthdate")
    for value in values:
        try:
            date.fromisoformat(value.value)
        except ValueError:
            raise VerifiedClaimsRejected("verified_claims at claims/birthdate: not a date") from None
    return values


def _address(claim: dict[str, Any]) -> Address:
    """OpenID Connect Core 5.1.1's address as Verify's: `street_address` lines (or, without
    it, the `formatted` lines but its last when that is the postcode), then locality and region.
    A postcode is Verify's `PostCode` in the United Kingdom and `InternationalPostCode` elsewhere."""
    postcode = (claim.get("postal_code") or "").strip() or None
    if claim.get("street_address"):
        lines = [line.strip() for line in claim["street_address"].splitlines()]
    else:
        lines = [line.strip() for line in (claim.get("formatted") or "").splitlines()]
        if lines and postcode and lines[-1] == postcode:
            lines.pop()
    for key in ("locality", "region"):
        if claim.get(key) and claim[key].strip() not in lines:
            lines.append(claim[key].strip())
    country = (claim.get("country_code") or claim.get("country") or "GB").strip().upper()
    in_uk = country in ("GB", "GBR", "UK", "UNITED KINGDOM")
    return Address(lines=tuple(line for line in lines if line),
                   post_code=postcode if in_uk else None,
                   international_post_code=None if in_uk else postcode, verified=True)


def _dataset(items: list[dict[str, Any]]) -> MatchingDataset:
    addresses: list[Address] = []
    for item in items:
        if item["claims"].get("address"):
            address = _address(item["claims"]["address"])
            if address not in addresses:
                addresses.append(address)
    return MatchingDataset(
        first_names=_values(items, "given_name"),
        middle_names=_values(items, "middle_name"),
        surnames=_values(items, "family_name", "birth_family_name"),
        dates_of_birth=_birthdates(items),
        current_addresses=tuple(addresses[:1]),
        previous_addresses=tuple(addresses[1:]),
    )
