"""The stub One Login's test identities: the stub hub's residents, as One Login would describe them.

Built from the same fictional residents (broker.devtools.stub_hub.identities), so the demo council
matches them the same way through either upstream: the core identity's `name` history (one name
object per surname the resident has had, each with all given names) and `birthDate`, and the
address claim with structured fields, `uprn` and `validFrom`/`validUntil`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from broker.devtools.stub_hub.identities import IDENTITIES as HUB_IDENTITIES
from broker.identity import Address, LevelOfAssurance, MatchingDataset

VOT = {LevelOfAssurance.LEVEL_1: "P1", LevelOfAssurance.LEVEL_2: "P2"}
NUMBERED_STREET = re.compile(r"^(\d+[A-Za-z]?) (.+)$")


@dataclass(frozen=True)
class OneLoginIdentity:
    key: str
    label: str
    sub: str
    vot: str
    credential_subject: dict[str, Any]
    addresses: list[dict[str, Any]]


def _dates(valid_from: date | None, valid_to: date | None) -> dict[str, str]:
    dates = {}
    if valid_from:
        dates["validFrom"] = valid_from.isoformat()
    if valid_to:
        dates["validUntil"] = valid_to.isoformat()
    return dates


def _names(dataset: MatchingDataset) -> list[dict[str, Any]]:
    given = [{"type": "GivenName", "value": v.value}
             for v in (*dataset.first_names[:1], *dataset.middle_names) if v.value]
    return [{"nameParts": [*given, {"type": "FamilyName", "value": surname.value}],
             **_dates(surname.valid_from, surname.valid_to)} for surname in dataset.surnames]


def _address(address: Address) -> dict[str, Any]:
    fields: dict[str, Any] = {"addressCountry": "GB"}
    street_seen = False
    for line in address.lines:
        numbered = NUMBERED_STREET.match(line)
        if numbered and not street_seen:
            fields.update(buildingNumber=numbered.group(1), streetName=numbered.group(2))
            street_seen = True
        elif not street_seen:
            fields["subBuildingName" if "buildingName" not in fields else "buildingName"] = line
        else:
            fields["addressLocality"] = line
    if address.post_code:
        fields["postalCode"] = address.post_code
    if address.uprn:
        fields["uprn"] = int(address.uprn)
    return {**fields, **_dates(address.valid_from, address.valid_to)}


def _from_hub(key: str) -> OneLoginIdentity:
    hub = HUB_IDENTITIES[key]
    dataset = hub.dataset
    subject = {"name": _names(dataset),
               "birthDate": [{"value": v.value} for v in dataset.dates_of_birth]}
    addresses = [_address(a) for a in (*dataset.current_addresses, *dataset.previous_addresses)]
    label = hub.label.replace("LEVEL_2", "P2").replace("LEVEL_1", "P1")
    return OneLoginIdentity(key, label, f"urn:fdc:gov.uk:2022:stub-{key}", VOT[hub.level],
                            subject, addresses)


IDENTITIES: dict[str, OneLoginIdentity] = {key: _from_hub(key) for key in HUB_IDENTITIES}
DEFAULT_IDENTITY = "jane"

# Failures a relying party meets: an authorization error, or a sign-in without a proven identity.
FAILURES = {
    "access-denied": "Access denied: the resident stopped or could not continue",
    "not-proven": "Signed in, but identity not proven (a return code instead of an identity)",
    "temporarily-unavailable": "One Login is temporarily unavailable",
}
