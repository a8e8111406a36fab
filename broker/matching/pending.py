"""A sign-in waiting on the cycle 3 page, as it is kept in Redis between two requests.

The Flow was taken from Redis at the assertion consumer service, so everything the second
request needs (the flow, the verified identity, the match id) travels here, under an unguessable
token with a TTL; nothing of it is ever logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from broker.identity import Address, Flow, LevelOfAssurance, MatchingDataset, MatchingValue, VerifiedIdentity


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _undate(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _value_json(v: MatchingValue) -> list[Any]:
    return [v.value, v.verified, _day(v.valid_from), _day(v.valid_to)]


def _value(data: list[Any]) -> MatchingValue:
    return MatchingValue(data[0], data[1], _undate(data[2]), _undate(data[3]))


def _address_json(a: Address) -> dict[str, Any]:
    return {"lines": list(a.lines), "post_code": a.post_code,
            "international_post_code": a.international_post_code, "uprn": a.uprn,
            "verified": a.verified, "valid_from": _day(a.valid_from), "valid_to": _day(a.valid_to)}


def _address(d: dict[str, Any]) -> Address:
    return Address(tuple(d["lines"]), d["post_code"], d["international_post_code"], d["uprn"],
                   d["verified"], _undate(d["valid_from"]), _undate(d["valid_to"]))


def identity_to_json(identity: VerifiedIdentity) -> dict[str, Any]:
    ds = identity.matching_dataset
    return {
        "hashed_pid": identity.hashed_pid, "level": identity.level_of_assurance.name,
        "issuer": identity.issuer, "authenticated_at": identity.authenticated_at,
        "dataset": {
            "first_names": [_value_json(v) for v in ds.first_names],
            "middle_names": [_value_json(v) for v in ds.middle_names],
            "surnames": [_value_json(v) for v in ds.surnames],
            "dates_of_birth": [_value_json(v) for v in ds.dates_of_birth],
            "gender": _value_json(ds.gender) if ds.gender else None,
            "current_addresses": [_address_json(a) for a in ds.current_addresses],
            "previous_addresses": [_address_json(a) for a in ds.previous_addresses],
        },
    }


def identity_from_json(data: dict[str, Any]) -> VerifiedIdentity:
    ds = data["dataset"]
    dataset = MatchingDataset(
        first_names=tuple(_value(v) for v in ds["first_names"]),
        middle_names=tuple(_value(v) for v in ds["middle_names"]),
        surnames=tuple(_value(v) for v in ds["surnames"]),
        dates_of_birth=tuple(_value(v) for v in ds["dates_of_birth"]),
        gender=_value(ds["gender"]) if ds["gender"] else None,
        current_addresses=tuple(_address(a) for a in ds["current_addresses"]),
        previous_addresses=tuple(_address(a) for a in ds["previous_addresses"]),
    )
    return VerifiedIdentity(hashed_pid=data["hashed_pid"],
                            level_of_assurance=LevelOfAssurance.from_name(data["level"]),
                            matching_dataset=dataset, issuer=data["issuer"],
                            authenticated_at=data["authenticated_at"])


@dataclass
class PendingMatch:
    flow: Flow
    identity: VerifiedIdentity
    council_id: str
    match_id: str

    def to_json_dict(self) -> dict[str, Any]:
        return {"flow": self.flow.to_json_dict(), "identity": identity_to_json(self.identity),
                "council_id": self.council_id, "match_id": self.match_id}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> PendingMatch:
        return cls(flow=Flow.from_json_dict(data["flow"]),
                   identity=identity_from_json(data["identity"]),
                   council_id=data["council_id"], match_id=data["match_id"])
