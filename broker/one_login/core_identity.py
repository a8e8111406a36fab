"""The core identity JWT (`https://vocab.account.gov.uk/v1/coreIdentityJWT`) and the address claim,
turned into Verify's Matching Dataset.

The core identity JWT is signed ES256 by the identity service with a key from its DID document;
it is believed only when that signature verifies, `iss` is the identity service, `aud` is the
broker's client id, `sub` is the /userinfo `sub`, `vot` is a level of confidence, and it is within
`nbf`/`exp` (with the configured skew). The raw JWT is never stored or logged: only the typed
dataset made from it leaves this module.

Names: each `name` is one name the resident has had, made of `nameParts` (`GivenName`,
`FamilyName`), with `validFrom`/`validUntil` on the name or on a part. The first given name is
Verify's first name and the others its middle names. Addresses come from the address claim in
/userinfo (not inside the signed JWT: One Login returns it beside it), with `uprn`, `postalCode`
and `validFrom`/`validUntil`; one without `validUntil` is current. One Login returns only
addresses it checked, so each is marked verified, as are names and dates of birth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jws import extract_compact
from joserfc.jwt import JWTClaimsRegistry

from broker.identity import Address, LevelOfAssurance, MatchingDataset, MatchingValue
from broker.one_login.authorization import LEVEL_FOR_VOT
from broker.one_login.did import DidDocument

MAX_NAMES = 50
MAX_ADDRESSES = 50


REFUSALS = {
    "iss": "the core identity JWT is not from the identity service",
    "aud": "the core identity JWT is for another client",
    "sub": "the core identity JWT is about another user than /userinfo",
    "exp": "the core identity JWT has expired",
    "nbf": "the core identity JWT is not valid yet",
}


class CoreIdentityClaims(JWTClaimsRegistry):
    """The core identity JWT's claims as joserfc's claims registry: `iss` the identity service,
    `aud` exactly the broker's client id, `sub` the /userinfo `sub`, `exp` not past and `nbf` (if
    any) not to come, within the leeway."""

    def __init__(self, *, identity_issuer: str, client_id: str, sub: str, now: int, leeway: int):
        super().__init__(now=now, leeway=leeway,
                         iss={"essential": True, "value": identity_issuer},
                         aud={"essential": True, "value": client_id},
                         sub={"essential": True, "value": sub},
                         exp={"essential": True})
        self.client_id = client_id

    def validate_aud(self, value: object) -> None:
        if value != self.client_id and value != [self.client_id]:
            raise InvalidClaimError("aud")

    def validate_nbf(self, value: object) -> None:
        try:
            super().validate_nbf(value)
        except InvalidClaimError:
            raise InvalidClaimError("nbf") from None


class CoreIdentityRejected(Exception):
    """The core identity JWT or the address claim is not acceptable; the message says why."""


@dataclass(frozen=True)
class CoreIdentity:
    level_of_assurance: LevelOfAssurance
    dataset: MatchingDataset


def key_id(token: str) -> str | None:
    try:
        kid = extract_compact(token.encode()).headers().get("kid")
    except (JoseError, ValueError, TypeError, AttributeError) as exc:
        raise CoreIdentityRejected(f"the core identity JWT is not a compact JWS: {exc}") from None
    return kid if isinstance(kid, str) else None


def validate_core_identity(token: Any, did: DidDocument, *, identity_issuer: str, client_id: str,
                           sub: str, now: int, leeway: int) -> dict[str, Any]:
    """The verified claims of the core identity JWT; CoreIdentityRejected otherwise."""
    if not isinstance(token, str) or not token:
        raise CoreIdentityRejected("the core identity claim is not a JWT")
    key = did.key_for(key_id(token))  # DidDocumentError when the key is not in the document
    try:
        claims = jwt.decode(token, key, algorithms=["ES256"]).claims
    except (JoseError, ValueError, TypeError) as exc:
        raise CoreIdentityRejected(f"the core identity JWT's signature does not verify: "
                                   f"{type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise CoreIdentityRejected("the core identity JWT's payload is not a JSON object")
    checks = CoreIdentityClaims(identity_issuer=identity_issuer, client_id=client_id, sub=sub,
                                now=now, leeway=leeway)
    try:
        checks.validate(claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", "exp" if isinstance(exc, ExpiredTokenError) else "")
        raise CoreIdentityRejected(REFUSALS.get(claim, f"the core identity JWT is refused: "
                                                       f"{exc.description}")) from None
    return claims


def core_identity(claims: dict[str, Any], addresses: Any) -> CoreIdentity:
    vot = claims.get("vot")
    if vot not in LEVEL_FOR_VOT:
        raise CoreIdentityRejected(f"the core identity JWT's vot {vot!r} is not a level of confidence")
    vc = claims.get("vc")
    subject = vc.get("credentialSubject") if isinstance(vc, dict) else None
    if not isinstance(subject, dict):
        raise CoreIdentityRejected("the core identity JWT has no vc.credentialSubject")
    first, middle, surnames = _names(subject.get("name"))
    births = _list(subject.get("birthDate"), "birthDate", MAX_NAMES)
    dates_of_birth = tuple(MatchingValue(_iso_day(item.get("value"), "birthDate").isoformat(),
                                         verified=True) for item in births)
    current, previous = _addresses(addresses)
    if not surnames or not dates_of_birth:
        raise CoreIdentityRejected("the core identity JWT has no name or no date of birth")
    dataset = MatchingDataset(first_names=first, middle_names=middle, surnames=surnames,
                              dates_of_birth=dates_of_birth, current_addresses=current,
                              previous_addresses=previous)
    return CoreIdentity(LEVEL_FOR_VOT[vot], dataset)


def _list(value: Any, what: str, limit: int) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit or not all(
            isinstance(item, dict) for item in value):
        raise CoreIdentityRejected(f"{what} is not a list of objects")
    return value


def _iso_day(value: Any, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise CoreIdentityRejected(f"{what} has a date that is not YYYY-MM-DD") from None


def _optional_day(item: dict[str, Any], key: str, default: date | None = None) -> date | None:
    return _iso_day(item[key], key) if item.get(key) else default


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 200:
        raise CoreIdentityRejected(f"{what} is not a short text")
    return str(value).strip()


def _names(value: Any) -> tuple[tuple[MatchingValue, ...], ...]:
    first: list[MatchingValue] = []
    middle: list[MatchingValue] = []
    surnames: list[MatchingValue] = []
    for name in _list(value, "name", MAX_NAMES):
        since, until = _optional_day(name, "validFrom"), _optional_day(name, "validUntil")
        given, family = [], []
        for part in _list(name.get("nameParts"), "nameParts", 20):
            text = _text(part.get("value"), "a name part")
            dates = (_optional_day(part, "validFrom", since), _optional_day(part, "validUntil", until))
            if part.get("type") == "GivenName":
                given.append((text, dates))
            elif part.get("type") == "FamilyName":
                family.append((text, dates))
        if given:
            first.append(MatchingValue(given[0][0], True, *given[0][1]))
        if len(given) > 1:
            middle.append(MatchingValue(" ".join(text for text, _ in given[1:]), True,
                                        *given[1][1]))
        if family:
            surnames.append(MatchingValue(" ".join(text for text, _ in family), True,
                                          *family[0][1]))
    return tuple(first), tuple(middle), tuple(surnames)


STREET_FIELDS = ("dependentStreetName", "streetName")
LINE_FIELDS_BEFORE = ("organisationName", "departmentName", "subBuildingName", "buildingName")
LINE_FIELDS_AFTER = ("doubleDependentAddressLocality", "dependentAddressLocality", "addressLocality")


def _address_lines(item: dict[str, Any]) -> tuple[str, ...]:
    lines = [_text(item[key], key) for key in LINE_FIELDS_BEFORE if item.get(key)]
    number = _text(item["buildingNumber"], "buildingNumber") if item.get("buildingNumber") else ""
    for key in STREET_FIELDS:
        if item.get(key):
            lines.append(f"{number} {_text(item[key], key)}".strip())
            number = ""
    if number:
        lines.append(number)
    lines.extend(_text(item[key], key) for key in LINE_FIELDS_AFTER if item.get(key))
    return tuple(line for line in lines if line)


def _addresses(value: Any) -> tuple[tuple[Address, ...], tuple[Address, ...]]:
    current, previous = [], []
    for item in _list(value, "the address claim", MAX_ADDRESSES):
        country = item.get("addressCountry") or "GB"
        postcode = _text(item["postalCode"], "postalCode") if item.get("postalCode") else None
        uprn = _text(item["uprn"], "uprn") if item.get("uprn") not in (None, "") else None
        address = Address(
            lines=_address_lines(item),
            post_code=postcode if country == "GB" else None,
            international_post_code=postcode if country != "GB" else None,
            uprn=uprn, verified=True,
            valid_from=_optional_day(item, "validFrom"), valid_to=_optional_day(item, "validUntil"))
        (previous if address.valid_to is not None else current).append(address)
    return tuple(current), tuple(previous)
