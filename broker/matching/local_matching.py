"""Client for a council's local matching service and account-creation endpoint (DESIGN.md 3).

Cycle 1 / cycle 3 request (POST, JSON)::

    {"matchId": "<opaque, one per sign-in>", "levelOfAssurance": "LEVEL_2",
     "hashedPid": "<64 hex>",
     "matchingDataset": {
        "firstNames":   [{"value": "Jane", "verified": true, "from": "1980-05-01", "to": null}],
        "middleNames":  [...], "surnames": [...], "datesOfBirth": [...],
        "gender":       {"value": "Female", "verified": true} | null,
        "addresses":    [{"lines": [...], "postCode": "AB1 2CD", "internationalPostCode": null,
                          "uprn": "…", "verified": true, "from": "2015-06-01", "to": null,
                          "current": true}]},
     "cycle3Dataset": {"attributes": {"<name>": "<answer>"}}          (cycle 3 only)}

Answers: ``{"result": "match", "localAccountId": "…"}``, ``{"result": "no-match"}`` or
``{"result": "multiple-match"}`` (which the pipeline treats as a no-match).

Account creation (POST, JSON): ``{"hashedPid", "levelOfAssurance", "attributes": {...}}`` →
``{"result": "success", "localAccountId": "…"}`` or ``{"result": "failure"}``.

Any timeout, refused connection, non-200 status or body not of that shape is a failure of the
service (`MatchingServiceUnavailable`), never a no-match: a resident must not be told "we could
not find your record" (or be given a second account) because a server was down.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from broker.identity import Address, MatchingDataset, MatchingValue, VerifiedIdentity

log = logging.getLogger(__name__)

MAX_ACCOUNT_ID_LENGTH = 255
RETRY_BACKOFF_SECONDS = 0.25


class MatchingServiceUnavailable(Exception):
    """The council's service did not give a usable answer (after the one retry)."""


class MatchResult(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no-match"
    MULTIPLE_MATCH = "multiple-match"


@dataclass(frozen=True)
class MatchAnswer:
    result: MatchResult
    local_account_id: str | None = None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _value(value: MatchingValue) -> dict[str, Any]:
    return {"value": value.value, "verified": value.verified, "from": _day(value.valid_from),
            "to": _day(value.valid_to)}


def _address(address: Address, current: bool) -> dict[str, Any]:
    return {"lines": list(address.lines), "postCode": address.post_code,
            "internationalPostCode": address.international_post_code, "uprn": address.uprn,
            "verified": address.verified, "from": _day(address.valid_from),
            "to": _day(address.valid_to), "current": current}


def matching_dataset_json(dataset: MatchingDataset) -> dict[str, Any]:
    """The Matching Dataset as the local matching service receives it, history included."""
    return {
        "firstNames": [_value(v) for v in dataset.first_names],
        "middleNames": [_value(v) for v in dataset.middle_names],
        "surnames": [_value(v) for v in dataset.surnames],
        "datesOfBirth": [_value(v) for v in dataset.dates_of_birth],
        "gender": ({"value": dataset.gender.value, "verified": dataset.gender.verified}
                   if dataset.gender else None),
        "addresses": [*(_address(a, True) for a in dataset.current_addresses),
                      *(_address(a, False) for a in dataset.previous_addresses)],
    }


def account_creation_attributes(identity: VerifiedIdentity, names: tuple[str, ...],
                                cycle3: dict[str, str] | None) -> dict[str, Any]:
    """The attributes a council asked for at account creation (Verify's user account creation)."""
    dataset = identity.matching_dataset
    builders: dict[str, Callable[[], Any]] = {
        "first_name": lambda: _current(dataset.first_names),
        "middle_name": lambda: _current(dataset.middle_names),
        "surname": lambda: _current(dataset.surnames),
        "date_of_birth": lambda: _current(dataset.dates_of_birth),
        "current_address": lambda: (_address(dataset.current_address(), True)
                                    if dataset.current_address() else None),
        "address_history": lambda: [*(_address(a, True) for a in dataset.current_addresses),
                                    *(_address(a, False) for a in dataset.previous_addresses)],
        "cycle_3": lambda: dict(cycle3) if cycle3 else None,
    }
    return {name: builders[name]() for name in names}


def _current(values: tuple[MatchingValue, ...]) -> dict[str, Any] | None:
    current = MatchingDataset.current(values)
    return _value(current) if current else None


def _account_id(body: dict[str, Any]) -> str:
    account = body.get("localAccountId")
    if not isinstance(account, str) or not account or len(account) > MAX_ACCOUNT_ID_LENGTH:
        raise ValueError("a success without a usable localAccountId")
    return account


class LocalMatchingClient:
    """Calls one council's service: one retry with back-off, then `MatchingServiceUnavailable`."""

    def __init__(self, service_url: str, bearer_token: str | None, timeout_seconds: float,
                 account_creation_url: str | None = None, *,
                 backoff_seconds: float = RETRY_BACKOFF_SECONDS,
                 session: requests.Session | None = None):
        self.service_url = service_url
        self.account_creation_url = account_creation_url
        self.timeout = timeout_seconds
        self.backoff = backoff_seconds
        self.session = session or requests.Session()
        self.headers = {"Accept": "application/json"}
        if bearer_token:
            self.headers["Authorization"] = f"Bearer {bearer_token}"

    def match(self, match_id: str, identity: VerifiedIdentity,
              cycle3: dict[str, str] | None = None) -> MatchAnswer:
        body: dict[str, Any] = {
            "matchId": match_id, "levelOfAssurance": identity.level_of_assurance.name,
            "hashedPid": identity.hashed_pid,
            "matchingDataset": matching_dataset_json(identity.matching_dataset),
        }
        if cycle3 is not None:
            body["cycle3Dataset"] = {"attributes": dict(cycle3)}
        return self._post(self.service_url, body, self._read_match, "matching")

    def create_account(self, identity: VerifiedIdentity, attributes: dict[str, Any]) -> str | None:
        """The new local account id, or None when the council's endpoint says `failure`."""
        if not self.account_creation_url:
            return None
        body = {"hashedPid": identity.hashed_pid,
                "levelOfAssurance": identity.level_of_assurance.name, "attributes": attributes}
        return self._post(self.account_creation_url, body, self._read_creation, "account creation")

    @staticmethod
    def _read_match(body: Any) -> MatchAnswer:
        result = MatchResult(body["result"])
        if result is MatchResult.MATCH:
            return MatchAnswer(result, _account_id(body))
        return MatchAnswer(result)

    @staticmethod
    def _read_creation(body: Any) -> str | None:
        if body["result"] == "success":
            return _account_id(body)
        if body["result"] == "failure":
            return None
        raise ValueError("unknown result")

    def _post(self, url: str, body: dict[str, Any], read: Callable[[Any], Any], what: str) -> Any:
        problem = ""
        for attempt in (1, 2):
            if attempt == 2:
                time.sleep(self.backoff)
            started = time.monotonic()
            try:
                response = self.session.post(url, json=body, headers=self.headers,
                                             timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                problem = type(exc).__name__
            else:
                # `timeout` bounds each socket read; a trickling answer could take far longer,
                # and the resident is waiting, so an answer later than the timeout is a failure.
                if time.monotonic() - started > self.timeout:
                    problem = "answer arrived after the timeout"
                elif response.status_code != 200:
                    problem = f"HTTP {response.status_code}"
                else:
                    try:
                        parsed = response.json()
                        if not isinstance(parsed, dict):
                            raise ValueError("not a JSON object")
                        return read(parsed)
                    except (ValueError, KeyError, TypeError) as exc:
                        problem = f"malformed answer ({type(exc).__name__})"
            log.warning("%s service: attempt %d failed: %s", what, attempt, problem)
        raise MatchingServiceUnavailable(f"{what} service failed twice: {problem}")
