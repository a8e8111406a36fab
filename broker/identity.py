"""The protocol-neutral model that travels between the hub side, matching and the OIDC side.

The SAML side produces these objects and the OIDC side consumes them; neither imports the
other. Keeping them typed (rather than dicts of attributes) is what lets each side be tested
alone and lets a reader see exactly what crosses the boundary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Any

VERIFY_LOA_PREFIX = "urn:uk:gov:cabinet-office:tc:saml:authn-context:"


class LevelOfAssurance(enum.Enum):
    """GOV.UK Verify's levels; ordered so that a minimum can be compared."""

    LEVEL_1 = 1
    LEVEL_2 = 2
    LEVEL_3 = 3
    LEVEL_4 = 4

    @property
    def uri(self) -> str:
        return f"{VERIFY_LOA_PREFIX}level{self.value}"

    @classmethod
    def from_uri(cls, uri: str) -> LevelOfAssurance:
        """Raises ValueError for anything but level1..level4, so `levelX` (fraud) never passes."""
        if not uri.startswith(VERIFY_LOA_PREFIX):
            raise ValueError(f"not a level of assurance: {uri!r}")
        suffix = uri[len(VERIFY_LOA_PREFIX):]
        for level in cls:
            if suffix == f"level{level.value}":
                return level
        raise ValueError(f"not an acceptable level of assurance: {uri!r}")

    @classmethod
    def from_name(cls, name: str) -> LevelOfAssurance:
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"unknown level of assurance {name!r}") from None


@dataclass(frozen=True)
class MatchingValue:
    """One value of a Matching Dataset attribute, with its verification and history dates."""

    value: str
    verified: bool = False
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...] = ()
    post_code: str | None = None
    international_post_code: str | None = None
    uprn: str | None = None
    verified: bool = False
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class MatchingDataset:
    """GOV.UK Verify's Matching Dataset. Every attribute can repeat (history)."""

    first_names: tuple[MatchingValue, ...] = ()
    middle_names: tuple[MatchingValue, ...] = ()
    surnames: tuple[MatchingValue, ...] = ()
    dates_of_birth: tuple[MatchingValue, ...] = ()
    gender: MatchingValue | None = None
    current_addresses: tuple[Address, ...] = ()
    previous_addresses: tuple[Address, ...] = ()

    @staticmethod
    def current(values: tuple[MatchingValue, ...]) -> MatchingValue | None:
        """The value in force now: verified current values first, then any current one."""
        current = [v for v in values if v.valid_to is None] or list(values)
        current.sort(key=lambda v: (v.verified, v.valid_from or date.min), reverse=True)
        return current[0] if current else None

    def current_address(self) -> Address | None:
        addresses = list(self.current_addresses)
        addresses.sort(key=lambda a: (a.valid_from or date.min), reverse=True)
        return addresses[0] if addresses else None


@dataclass(frozen=True)
class VerifiedIdentity:
    """What the hub told us about a resident, already bound to one council.

    `hashed_pid` is per council (see `hub.pid.hash_pid`); it is what matching, links and the
    OIDC subject use. `persistent_id` (the identity provider's raw NameID) stays server-side:
    it is kept only in the broker session in Redis, so that a later sign-in at another council
    can derive that council's hashed PID without a new trip to the hub. Never log it.
    `issuer` is the identity provider's entity id (the Matching Dataset assertion's Issuer), the
    first input of every hashed PID; `authenticated_at` is its AuthnInstant (the `auth_time`).
    """

    hashed_pid: str
    level_of_assurance: LevelOfAssurance
    matching_dataset: MatchingDataset
    issuer: str
    authenticated_at: int
    persistent_id: str = field(default="", repr=False)

    def to_json_dict(self) -> dict[str, Any]:
        # Written field by field: dataclasses.asdict's deep copy was a tenth of a sign-in's CPU.
        mds = self.matching_dataset
        return {"hashed_pid": self.hashed_pid, "level_of_assurance": self.level_of_assurance.name,
                "matching_dataset": {
                    "first_names": [_value_json(v) for v in mds.first_names],
                    "middle_names": [_value_json(v) for v in mds.middle_names],
                    "surnames": [_value_json(v) for v in mds.surnames],
                    "dates_of_birth": [_value_json(v) for v in mds.dates_of_birth],
                    "gender": _value_json(mds.gender) if mds.gender is not None else None,
                    "current_addresses": [_address_json(a) for a in mds.current_addresses],
                    "previous_addresses": [_address_json(a) for a in mds.previous_addresses]},
                "issuer": self.issuer, "authenticated_at": self.authenticated_at,
                "persistent_id": self.persistent_id}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> VerifiedIdentity:
        mds = data["matching_dataset"]

        def values(items) -> tuple[MatchingValue, ...]:
            return tuple(MatchingValue(i["value"], i["verified"], _day(i["valid_from"]),
                                       _day(i["valid_to"])) for i in items)

        def addresses(items) -> tuple[Address, ...]:
            return tuple(Address(tuple(a["lines"]), a["post_code"], a["international_post_code"],
                                 a["uprn"], a["verified"], _day(a["valid_from"]),
                                 _day(a["valid_to"])) for a in items)

        gender = values([mds["gender"]])[0] if mds.get("gender") else None
        dataset = MatchingDataset(
            first_names=values(mds["first_names"]), middle_names=values(mds["middle_names"]),
            surnames=values(mds["surnames"]), dates_of_birth=values(mds["dates_of_birth"]),
            gender=gender, current_addresses=addresses(mds["current_addresses"]),
            previous_addresses=addresses(mds["previous_addresses"]))
        return cls(hashed_pid=data["hashed_pid"],
                   level_of_assurance=LevelOfAssurance.from_name(data["level_of_assurance"]),
                   matching_dataset=dataset, issuer=data["issuer"],
                   authenticated_at=data["authenticated_at"],
                   persistent_id=data.get("persistent_id", ""))


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _text(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _value_json(value: MatchingValue) -> dict[str, Any]:
    return {"value": value.value, "verified": value.verified,
            "valid_from": _text(value.valid_from), "valid_to": _text(value.valid_to)}


def _address_json(address: Address) -> dict[str, Any]:
    return {"lines": list(address.lines), "post_code": address.post_code,
            "international_post_code": address.international_post_code, "uprn": address.uprn,
            "verified": address.verified, "valid_from": _text(address.valid_from),
            "valid_to": _text(address.valid_to)}


@dataclass
class Flow:
    """One sign-in in progress: what the council app asked for and what the hub was asked.

    Stored in Redis under an unguessable id that travels to the hub as RelayState.
    """

    id: str
    client_id: str
    authorize_params: dict[str, str]
    authn_request_id: str
    minimum_level: LevelOfAssurance
    created_at: int
    ui_locale: str = "en"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {"id": self.id, "client_id": self.client_id,
                "authorize_params": dict(self.authorize_params),
                "authn_request_id": self.authn_request_id,
                "minimum_level": self.minimum_level.name, "created_at": self.created_at,
                "ui_locale": self.ui_locale, "extra": dict(self.extra)}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Flow:
        data = dict(data)
        data["minimum_level"] = LevelOfAssurance.from_name(data["minimum_level"])
        return cls(**data)
