"""Client for a council's local matching service, speaking GOV.UK Verify's contract
(docs/architecture.md section 6).

A council that used Verify already runs a service built to the Matching Service Adapter's JSON
contract (alphagov/verify-matching-service-adapter; verify-tech-docs, "Respond to matching
requests" and its legacy and universal JSON schemas; "Create user accounts"). It must work behind
the broker unchanged, so this module sends what the adapter sent, key for key:

Cycle 1 / cycle 3 request (POST, JSON)::

    {"matchId": "…", "levelOfAssurance": "LEVEL_2", "hashedPid": "<64 hex>",
     "matchingDataset": {
        "firstName":   {"value": "Jane", "verified": true, "from": "1980-05-01T00:00:00.000Z"},
        "middleNames": {"value": "Ann", "verified": true},
        "surnames":    [{"value": "Smith", "verified": true, "from": "…", "to": "…"}, …],
        "gender":      {"value": "FEMALE", "verified": true},
        "dateOfBirth": {"value": "1980-05-01", "verified": true},
        "addresses":   [{"lines": ["1 Council Street"], "postCode": "AB1 2CD",
                         "internationalPostCode": "…", "uprn": "…", "verified": true,
                         "fromDate": "2015-06-01T00:00:00.000Z", "toDate": "…"}, …]},
     "cycle3Dataset": {"attributes": {"<name>": "<answer>"}}              (cycle 3 only)}

- `firstName`, `middleNames`, `dateOfBirth` and `gender` are single values: where the identity
  provider sent history, the adapter's choice, verified before unverified, then current (no
  `to`) before ended, then the latest `from`. `surnames` and `addresses` carry all the history
  (current addresses first) and are always present, possibly empty, as the adapter sent them.
- Gender is `FEMALE`, `MALE` or `NOT_SPECIFIED`; `dateOfBirth.value` is a date (`1980-05-24`),
  every `from`/`to`/`fromDate`/`toDate` a date-time in UTC with milliseconds, as the adapter's
  Jackson wrote them. `verified` is always there; anything absent is left out, never `null`.
- The universal schema (`dataset_schema: universal`, for a service built to it) differs only in
  the addresses' dates, named `from` and `to`; the broker has no `nonLatinScriptValue` to send.

Answers: ``{"result": "match"}`` or ``{"result": "no-match"}``. Two extensions are read: a
`localAccountId` (released to the council's apps as `local_account_id`) and `multiple-match`
(which the pipeline treats as a no-match, as Verify's example services answered it).

Account creation (POST, JSON): ``{"hashedPid", "levelOfAssurance"}`` → ``{"result": "success"}``
or ``{"result": "failure"}``, again with an optional `localAccountId`. In Verify the new account's
attributes reached the service through the hub, not in this call; here they reach the council's
apps as claims. A council may opt in to an `attributes` member carrying the ones it configured.

Any timeout, refused connection, non-200 status or body not of that shape is a failure of the
service (`MatchingServiceUnavailable`), never a no-match: a resident must not be told "we could
not find your record" (or be given a second account) because a server was down.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from broker.identity import Address, MatchingDataset, MatchingValue, VerifiedIdentity

log = logging.getLogger(__name__)

MAX_ACCOUNT_ID_LENGTH = 255
RETRY_BACKOFF_SECONDS = 0.25

# Verify's GenderType values, as the identity provider wrote them, to the adapter's enum.
GENDERS = {"female": "FEMALE", "male": "MALE", "not specified": "NOT_SPECIFIED"}


class MatchingServiceUnavailable(Exception):
    """The council's service did not give a usable answer (after the one retry)."""


class DatasetSchema(enum.Enum):
    """Which of the adapter's two JSON schemas the council's service was built to."""

    LEGACY = "legacy"
    UNIVERSAL = "universal"


class MatchResult(enum.Enum):
    MATCH = "match"
    NO_MATCH = "no-match"
    MULTIPLE_MATCH = "multiple-match"


class CreationResult(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class MatchAnswer:
    result: MatchResult
    local_account_id: str | None = None


@dataclass(frozen=True)
class CreationAnswer:
    result: CreationResult
    local_account_id: str | None = None


def date_time(day: date) -> str:
    """A Matching Dataset date as the adapter wrote a Joda DateTime: midnight UTC, milliseconds."""
    return f"{day.isoformat()}T00:00:00.000Z"


def preferred(values: Iterable[MatchingValue]) -> MatchingValue | None:
    """The one value the adapter sent for a single-valued attribute: verified, then current."""
    ranked = sorted(values, key=lambda v: (v.verified, v.valid_to is None,
                                           v.valid_from or date.min), reverse=True)
    return ranked[0] if ranked else None


def _mds_value(value: MatchingValue, text: str) -> dict[str, Any]:
    member: dict[str, Any] = {"value": text, "verified": value.verified}
    if value.valid_from is not None:
        member["from"] = date_time(value.valid_from)
    if value.valid_to is not None:
        member["to"] = date_time(value.valid_to)
    return member


def _address(address: Address, schema: DatasetSchema) -> dict[str, Any]:
    member: dict[str, Any] = {"lines": list(address.lines), "verified": address.verified}
    for key, text in (("postCode", address.post_code),
                      ("internationalPostCode", address.international_post_code),
                      ("uprn", address.uprn)):
        if text:
            member[key] = text
    start, end = ("fromDate", "toDate") if schema is DatasetSchema.LEGACY else ("from", "to")
    if address.valid_from is not None:
        member[start] = date_time(address.valid_from)
    if address.valid_to is not None:
        member[end] = date_time(address.valid_to)
    return member


def _date_of_birth(value: MatchingValue) -> dict[str, Any] | None:
    try:
        day = date.fromisoformat(value.value[:10])
    except ValueError:
        return None  # not a date: better absent than a value the council's schema rejects
    return _mds_value(value, day.isoformat())


def _gender(value: MatchingValue) -> dict[str, Any] | None:
    code = GENDERS.get(value.value.strip().casefold())
    return _mds_value(value, code) if code else None


def _name(values: tuple[MatchingValue, ...]) -> dict[str, Any] | None:
    value = preferred(v for v in values if v.value)
    return _mds_value(value, value.value) if value else None


def matching_dataset_json(dataset: MatchingDataset,
                          schema: DatasetSchema = DatasetSchema.LEGACY) -> dict[str, Any]:
    """The Matching Dataset exactly as the Matching Service Adapter sent it."""
    singles = {
        "firstName": _name(dataset.first_names),
        "middleNames": _name(dataset.middle_names),
        "dateOfBirth": (_date_of_birth(dob) if (dob := preferred(dataset.dates_of_birth))
                        else None),
        "gender": _gender(dataset.gender) if dataset.gender else None,
    }
    body: dict[str, Any] = {key: member for key, member in singles.items() if member is not None}
    body["surnames"] = [_mds_value(v, v.value) for v in dataset.surnames if v.value]
    body["addresses"] = [_address(a, schema)
                         for a in (*dataset.current_addresses, *dataset.previous_addresses)]
    return body


def match_request(match_id: str, identity: VerifiedIdentity, cycle3: dict[str, str] | None,
                  schema: DatasetSchema = DatasetSchema.LEGACY) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchId": match_id, "levelOfAssurance": identity.level_of_assurance.name,
        "hashedPid": identity.hashed_pid,
        "matchingDataset": matching_dataset_json(identity.matching_dataset, schema),
    }
    if cycle3 is not None:
        body["cycle3Dataset"] = {"attributes": dict(cycle3)}
    return body


def account_creation_request(identity: VerifiedIdentity,
                             attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    """Verify's request; `attributes` only for a council that opted in to the extension."""
    body: dict[str, Any] = {"hashedPid": identity.hashed_pid,
                            "levelOfAssurance": identity.level_of_assurance.name}
    if attributes:
        body["attributes"] = attributes
    return body


def account_creation_attributes(identity: VerifiedIdentity, names: tuple[str, ...],
                                cycle3: dict[str, str] | None,
                                schema: DatasetSchema = DatasetSchema.LEGACY) -> dict[str, Any]:
    """The attributes a council opted in to (the names of Verify's user account creation
    attributes), each in the shape the matching request gives it; absent ones are left out."""
    dataset = identity.matching_dataset
    mds = matching_dataset_json(dataset, schema)
    current = dataset.current_address()
    builders: dict[str, Callable[[], Any]] = {
        "first_name": lambda: mds.get("firstName"),
        "middle_name": lambda: mds.get("middleNames"),
        "surname": lambda: _name(dataset.surnames),
        "date_of_birth": lambda: mds.get("dateOfBirth"),
        "current_address": lambda: _address(current, schema) if current else None,
        "address_history": lambda: mds["addresses"] or None,
        "cycle_3": lambda: dict(cycle3) if cycle3 else None,
    }
    built = {name: builders[name]() for name in names}
    return {name: value for name, value in built.items() if value is not None}


def _account_id(body: dict[str, Any]) -> str | None:
    """The optional `localAccountId`: absent or null is fine, anything else must be usable."""
    account = body.get("localAccountId")
    if account is None:
        return None
    if not isinstance(account, str) or not account or len(account) > MAX_ACCOUNT_ID_LENGTH:
        raise ValueError("a localAccountId that is not a usable account id")
    return account


def read_match_answer(body: dict[str, Any]) -> MatchAnswer:
    result = MatchResult(body["result"])
    if result is MatchResult.MATCH:
        return MatchAnswer(result, _account_id(body))
    return MatchAnswer(result)


def read_creation_answer(body: dict[str, Any]) -> CreationAnswer:
    result = CreationResult(body["result"])
    if result is CreationResult.SUCCESS:
        return CreationAnswer(result, _account_id(body))
    return CreationAnswer(result)


class LocalMatchingClient:
    """Calls one council's service: one retry with back-off, then `MatchingServiceUnavailable`."""

    def __init__(self, service_url: str, bearer_token: str | None, timeout_seconds: float,
                 account_creation_url: str | None = None, *,
                 dataset_schema: DatasetSchema = DatasetSchema.LEGACY,
                 backoff_seconds: float = RETRY_BACKOFF_SECONDS,
                 session: requests.Session | None = None):
        self.service_url = service_url
        self.account_creation_url = account_creation_url
        self.dataset_schema = dataset_schema
        self.timeout = timeout_seconds
        self.backoff = backoff_seconds
        self.session = session or requests.Session()
        self.headers = {"Accept": "application/json"}
        if bearer_token:
            self.headers["Authorization"] = f"Bearer {bearer_token}"

    def match(self, match_id: str, identity: VerifiedIdentity,
              cycle3: dict[str, str] | None = None) -> MatchAnswer:
        body = match_request(match_id, identity, cycle3, self.dataset_schema)
        return self._post(self.service_url, body, read_match_answer, "matching")

    def create_account(self, identity: VerifiedIdentity,
                       attributes: dict[str, Any] | None = None) -> CreationAnswer:
        if not self.account_creation_url:
            raise RuntimeError("this council has no account creation endpoint")
        return self._post(self.account_creation_url,
                          account_creation_request(identity, attributes),
                          read_creation_answer, "account creation")

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
