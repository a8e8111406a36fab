"""The protocol-neutral model that travels between the hub side, matching and the OIDC side.

The SAML side produces these objects and the OIDC side consumes them; neither imports the
other. Keeping them typed (rather than dicts of attributes) is what lets each side be tested
alone and lets a reader see exactly what crosses the boundary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

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

    `hashed_pid` is per council (see `broker.pairwise.hash_pid`); it is what matching, links
    and the OIDC subject use. `persistent_id` (the identity provider's raw NameID) stays
    server-side, in Redis only (the sign-in in progress, then the broker session), so that a
    later sign-in at another council can derive that council's hashed PID without a new trip to
    the hub. Never log it. Stored only through `broker.codec`, which carries every field.
    `issuer` is the identity provider's entity id (the Matching Dataset assertion's Issuer), the
    first input of every hashed PID; `authenticated_at` is its AuthnInstant (the `auth_time`).
    """

    hashed_pid: str
    level_of_assurance: LevelOfAssurance
    matching_dataset: MatchingDataset
    issuer: str
    authenticated_at: int
    persistent_id: str = field(default="", repr=False)
    # The upstream (its registry name, `broker.upstreams`) that proved the resident: single
    # sign-on from this identity serves only flows handed to the same upstream.
    upstream: str = ""

    def is_same_resident(self, other: VerifiedIdentity) -> bool:
        """The same person at the same identity provider, whatever council's hash each holds."""
        return (bool(self.persistent_id) and self.persistent_id == other.persistent_id
                and self.issuer == other.issuer)


@dataclass(frozen=True)
class SamlRequest:
    """What a flow asked a SAML upstream (Verify's hub): its answer's `InResponseTo`."""

    authn_request_id: str


@dataclass(frozen=True)
class OpenIdRequest:
    """What a flow asked an OpenID upstream (One Login, an OIDC4IDA provider): the ID token's
    `nonce`, and the PKCE `code_verifier` for the token request ("" without PKCE)."""

    nonce: str
    code_verifier: str = ""


@dataclass
class Flow:
    """One sign-in in progress: what the council app asked for and what the upstream was asked.

    Stored in Redis under an unguessable id that travels to the upstream (RelayState, `state`).
    `browser_binding` is the hash of the random value in the browser's binding cookie: only
    that browser may complete the flow (docs/adr/0012-flows-bound-to-the-browser.md).
    `upstream` is the registry name of the upstream it was handed to ("" for single sign-on
    from the broker session); the upstream's own request is in the typed field of its protocol,
    `saml` or `openid` (stored through `broker.codec` like every field).
    """

    id: str
    client_id: str
    authorize_params: dict[str, str]
    minimum_level: LevelOfAssurance
    created_at: int
    ui_locale: str = "en"
    browser_binding: str = ""
    upstream: str = ""
    saml: SamlRequest | None = None
    openid: OpenIdRequest | None = None


@dataclass
class PendingMatch:
    """A verified sign-in waiting on the resident: the council's cycle 3 question, or whether
    to create an account (broker.matching.views); `from_session` when the
    identity came from the broker session (single sign-on) rather than from the hub."""

    flow: Flow
    identity: VerifiedIdentity
    council_id: str
    match_id: str
    from_session: bool = False
    # On the account-creation question: the resident's cycle 3 answer, for the new account.
    cycle3_answer: str | None = None
    # On the cycle 3 question: the last answer that did not fit the council's format, shown
    # again with the error at the question's own address (Post/Redirect/Get, ADR 23). Here,
    # sealed in Redis, because it may be personal and must never be in a URL.
    rejected_answer: str | None = None
