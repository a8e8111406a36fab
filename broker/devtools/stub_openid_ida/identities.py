"""The stub OpenID provider's test identities: the stub hub's residents as an identity service
certified under the UK digital identity and attributes trust framework would describe them in
`verified_claims`, one object per verified address (the newest first), with `birth_family_name`
for a surname they had before."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from broker.devtools.stub_hub.identities import IDENTITIES as HUB_IDENTITIES
from broker.identity import Address, LevelOfAssurance

TRUST_FRAMEWORK = "uk_tfida"
ASSURANCE = {LevelOfAssurance.LEVEL_1: "low", LevelOfAssurance.LEVEL_2: "medium",
             LevelOfAssurance.LEVEL_3: "high"}


@dataclass(frozen=True)
class IdaIdentity:
    key: str
    label: str
    sub: str
    verified_claims: list[dict[str, Any]]


def _address(address: Address) -> dict[str, str]:
    claim = {"street_address": "\n".join(address.lines), "country": "GB"}
    if address.post_code:
        claim["postal_code"] = address.post_code
    return claim


def _from_hub(key: str, level: LevelOfAssurance | None = None, suffix: str = "") -> IdaIdentity:
    hub = HUB_IDENTITIES[key]
    level = level or hub.level
    dataset = hub.dataset
    surnames = [v.value for v in dataset.surnames]
    surname = dataset.current(dataset.surnames)
    claims: dict[str, Any] = {"given_name": dataset.first_names[0].value,
                              "family_name": surname.value if surname else surnames[-1],
                              "birthdate": dataset.dates_of_birth[0].value}
    if dataset.middle_names and dataset.middle_names[0].value:
        claims["middle_name"] = dataset.middle_names[0].value
    earlier = [name for name in surnames if name != claims["family_name"]]
    if earlier:
        claims["birth_family_name"] = earlier[0]
    # OIDC4IDA has no dates on an address: an older verification's address reads as a previous
    # one, so a resident whose newest address is not verified yet (Sam) gets no address at all,
    # rather than the one he has moved out of as if it were current.
    current = dataset.current_address()
    addresses = ([current, *(a for a in dataset.previous_addresses if a.verified)]
                 if current is not None and current.verified else [])
    verification = {"trust_framework": TRUST_FRAMEWORK, "assurance_level": ASSURANCE[level],
                    "evidence": [{"type": "document"}]}
    objects = []
    for index, address in enumerate(addresses or [None]):
        year = 2026 - index * 5
        object_claims = claims if index == 0 else {"family_name": claims["family_name"]}
        if address is not None:
            object_claims = {**object_claims, "address": _address(address)}
        objects.append({"verification": {**verification, "time": f"{year}-01-15T10:00Z"},
                        "claims": object_claims})
    label = hub.label.replace("LEVEL_2", "medium").replace("LEVEL_1", "low")
    if suffix:
        label = f"{hub.label.split(' (')[0]} ({ASSURANCE[level]}{suffix})"
    return IdaIdentity(key + ("-" + ASSURANCE[level] if suffix else ""), label,
                       f"stub-ida-{key}", objects)


IDENTITIES: dict[str, IdaIdentity] = {i.key: i for i in (
    *(_from_hub(key) for key in HUB_IDENTITIES),
    _from_hub("jane", LevelOfAssurance.LEVEL_3, suffix=", the same person at a higher level"),
)}
DEFAULT_IDENTITY = "jane"

# Failures a relying party meets: authorization errors, or a sign-in without a proven identity.
FAILURES = {
    "access-denied": "Access denied: the resident stopped",
    "not-proven": "Signed in, but identity not proven (no verified_claims)",
    "unknown-framework": "Verified under a trust framework the broker does not know",
    "fraud": "A fraud check failed (error fraud_detected, this provider's own code)",
    "server-error": "The identity service had an error",
    "temporarily-unavailable": "The identity service is temporarily unavailable",
}
