"""The stub hub's test identities: fictional residents with realistic, messy Matching Datasets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from broker.identity import Address, LevelOfAssurance, MatchingDataset, MatchingValue


@dataclass(frozen=True)
class TestIdentity:
    key: str
    label: str
    pid: str
    level: LevelOfAssurance
    dataset: MatchingDataset
    notes: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def _v(value: str, verified: bool = True, valid_from: date | None = None,
       valid_to: date | None = None) -> MatchingValue:
    return MatchingValue(value, verified, valid_from, valid_to)


IDENTITIES: dict[str, TestIdentity] = {i.key: i for i in (
    TestIdentity(
        key="jane", label="Jane Doe (LEVEL_2, full Matching Dataset with address history)",
        pid="stub-pid-jane-0001", level=LevelOfAssurance.LEVEL_2,
        dataset=MatchingDataset(
            first_names=(_v("Jane", valid_from=date(1980, 5, 1)),),
            middle_names=(_v("Ann"),),
            surnames=(_v("Smith", valid_from=date(1980, 5, 1), valid_to=date(2010, 6, 30)),
                      _v("Doe", valid_from=date(2010, 7, 1))),
            dates_of_birth=(_v("1980-05-01"),),
            gender=_v("Female"),
            current_addresses=(Address(("1 Council Street", "Borough"), "AB1 2CD", None,
                                       "100023336956", True, date(2015, 6, 1)),),
            previous_addresses=(Address(("22 Old Road", "Oldtown"), "OT9 8ZY", None, None,
                                        True, date(2005, 1, 1), date(2015, 5, 31)),),
        )),
    TestIdentity(
        key="lee", label="Lee One (LEVEL_1)", pid="stub-pid-lee-0002",
        level=LevelOfAssurance.LEVEL_1,
        dataset=MatchingDataset(
            first_names=(_v("Lee", verified=False),),
            surnames=(_v("One", verified=False),),
            dates_of_birth=(_v("1992-11-30", verified=False),),
            current_addresses=(Address(("5 High Street",), "CD3 4EF", verified=False),),
        )),
    TestIdentity(
        key="sam", label="Sam Mover (LEVEL_2, newest address not yet verified)",
        pid="stub-pid-sam-0003", level=LevelOfAssurance.LEVEL_2,
        dataset=MatchingDataset(
            first_names=(_v("Sam"),),
            middle_names=(_v("", verified=False),),
            surnames=(_v("Mover"),),
            dates_of_birth=(_v("1975-02-14"),),
            gender=_v("Not Specified"),
            current_addresses=(Address(("9 New Close", "Newtown"), "NT1 1AA", verified=False,
                                       valid_from=date(2026, 9, 1)),),
            previous_addresses=(Address(("3 Former Lane",), "FL2 2BB", verified=True,
                                        valid_from=date(2001, 3, 3),
                                        valid_to=date(2026, 8, 31)),),
        )),
    TestIdentity(
        key="dmitri", label="Дмитрий Иванов (LEVEL_2, non-Latin script name)",
        pid="stub-pid-dmitri-0004", level=LevelOfAssurance.LEVEL_2,
        dataset=MatchingDataset(
            first_names=(_v("Дмитрий"),),
            surnames=(_v("Иванов"),),
            dates_of_birth=(_v("1988-08-08"),),
            gender=_v("Male"),
            current_addresses=(Address(("Flat 2", "7 Station Road"), "ST7 7ST", None, None,
                                       True, date(2019, 4, 1)),),
        )),
)}

DEFAULT_IDENTITY = "jane"

FAILURES = {
    "cancel": "Cancel: the resident does not want to continue",
    "authn-failed": "Authentication failed: the resident could not be verified",
    "loa-pending": "Identity still being checked (LOA pending)",
    "requester-error": "Hub error: the hub rejected the request",
    "no-passive": "No passive sign-in: the resident would have to sign in",
}

LEVEL_X_URI = "urn:uk:gov:cabinet-office:tc:saml:authn-context:levelX"


@dataclass(frozen=True)
class Scenario:
    """One of GOV.UK Verify's compliance-tool scenarios the failures above do not cover."""

    label: str
    identity: str = DEFAULT_IDENTITY
    fraud: bool = False
    signed_by_hub: bool = False


SCENARIOS = {
    "fraud": Scenario("Fraud: the identity provider reports a fraud event (levelX)", fraud=True),
    "signed-by-hub": Scenario("Assertions signed by the hub instead of the identity provider "
                              "(the broker must refuse it)", signed_by_hub=True),
}
