"""One interface for every upstream identity service (GOV.UK Verify's hub, GOV.UK One Login, any
OpenID provider with OpenID Connect for Identity Assurance `verified_claims`).

An upstream is a plug-in, like SATOSA's backends: it hands a flow off to its service, registers
the endpoints its service calls back (an assertion consumer service, a redirect URI, a
back-channel logout endpoint), turns its service's answer into an `UpstreamAnswer` or one
`UpstreamFailure` of a protocol-neutral `FailureKind`, reports its readiness and its metrics,
checks its own configuration, and names the resident for its service's logout.

What is the same whatever the protocol is done once, by the journey, for every answer: the level
against the flow's minimum, `auth_time` against `max_age` and `prompt=login`, the answer's
freshness, replay of its identifiers, the browser binding, the resident's page for each failure
kind and the metric `broker_upstream_answers_total{upstream,outcome}`. A plug-in checks what only
its protocol knows (signatures, audiences, nonces, `InResponseTo`) and must not repeat those.

The journey's side of the contract is `Journey`: plug-in endpoints call it and never import
`broker.journey` (the layers are checked by import-linter: tests/test_package_layers.py).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from broker.identity import Flow, LevelOfAssurance, MatchingDataset, VerifiedIdentity
from broker.pairwise import hash_pid

if TYPE_CHECKING:
    from flask import Flask
    from flask.typing import ResponseReturnValue


class FailureKind(enum.Enum):
    """Why an upstream gave no verified identity, in words that fit every protocol. Each kind has
    one resident page and one OAuth error for the council app (`broker.journey`)."""

    CANCELLED = "cancelled"  # the resident chose to stop (Verify's authn-cancel, OIDC access_denied)
    AUTHENTICATION_FAILED = "authentication-failed"  # the resident could not authenticate
    NOT_PROVEN = "not-proven"  # identity not proven, or proven below the level asked for
    PENDING = "pending"  # the identity check has not finished yet (Verify's loa-pending)
    LOGIN_REQUIRED = "login-required"  # prompt=none and the resident must sign in (NoPassive)
    FRAUD = "fraud"  # the service reported a fraud event (Verify's levelX): never a success
    UNAVAILABLE = "unavailable"  # the service cannot be reached or answered with its own error
    REJECTED = "rejected"  # the answer cannot be trusted for this flow

    @property
    def oidc_error(self) -> str:
        """The authorization error the council app gets (OIDC Core 3.1.2.6)."""
        return {FailureKind.LOGIN_REQUIRED: "login_required",
                FailureKind.UNAVAILABLE: "temporarily_unavailable"}.get(self, "access_denied")


class UpstreamFailure(Exception):
    """No verified identity, for a reason of one `FailureKind`.

    Raised by `Upstream.hand_off` (the service cannot be asked) or returned by an endpoint with
    its service's answer. `detail` is for the log: no personal data. `answer_ids` are the
    answer's own identifiers (a failure Response's ID): the journey refuses them a second time,
    remembering them for `remember_for` seconds."""

    def __init__(self, kind: FailureKind, detail: str, answer_ids: tuple[str, ...] = (),
                 remember_for: int = 0):
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail
        self.answer_ids = answer_ids
        self.remember_for = remember_for


@dataclass(frozen=True)
class UpstreamAnswer:
    """A verified resident, as the upstream proved them: the facts the journey's neutral checks
    need, and the `VerifiedIdentity` each council gets.

    `upstream` is the registry name of the upstream that gave it (`Upstream.name`): a broker
    session keeps it, so single sign-on never crosses upstreams. `issuer` is whoever
    authenticated the resident (the identity provider's entity id, the OpenID issuer) and
    `subject` its persistent identifier for them (NameID, `sub`): the first and third inputs of
    every council's hashed PID (`broker.pairwise`). `auth_time` is when the resident
    authenticated (AuthnInstant, `auth_time`), None when the service did not say (then `max_age`
    and `prompt=login` cannot be met); `issued_at` when the service issued this answer
    (IssueInstant, `iat`). `answer_ids` are identifiers a replay would repeat (assertion IDs, a
    hash of the ID token), remembered for `remember_for` seconds."""

    upstream: str
    issuer: str
    subject: str
    level: LevelOfAssurance
    matching_dataset: MatchingDataset
    auth_time: int | None
    issued_at: int
    answer_ids: tuple[str, ...]
    remember_for: int

    def identity_for(self, hashing_entity_id: str) -> VerifiedIdentity:
        """The resident as one council sees them (its `pid_hashing_entity_id`)."""
        return VerifiedIdentity(
            hashed_pid=hash_pid(self.issuer, hashing_entity_id, self.subject, self.level),
            level_of_assurance=self.level, matching_dataset=self.matching_dataset,
            issuer=self.issuer,
            authenticated_at=self.auth_time if self.auth_time is not None else self.issued_at,
            persistent_id=self.subject, upstream=self.upstream)


@dataclass(frozen=True)
class HandOff:
    """The flow with this upstream's request in its typed field (`Flow.saml`, `Flow.openid`),
    saved by the journey before `response` (a self-posting form, a redirect) leaves."""

    flow: Flow
    response: ResponseReturnValue


@dataclass(frozen=True)
class ConfigProblem:
    """One line of `broker check-config`: the configuration key and what is wrong with it."""

    key: str
    text: str
    severity: str = "error"  # or "warning"


class Journey(Protocol):
    """What the journey offers an upstream's endpoints (implemented by `broker.journey`)."""

    def take_flow(self, upstream: Upstream, flow_id: str) -> Flow:
        """The flow handed to `upstream` under `flow_id`, taken once, at a same-site step (a
        top-level GET that brings the binding cookie).

        Ends the request with the resident's page (`flask.abort`) when it is unknown, used,
        another upstream's, or when this browser did not start it."""
        ...

    def answered(self, upstream: Upstream, flow: Flow, result: UpstreamAnswer | UpstreamFailure
                 ) -> ResponseReturnValue:
        """Runs the neutral checks on `result` and carries the sign-in on (matching, the code) or
        shows the failure's page. A same-site answer, for the flow `take_flow` gave: a cross-site
        one goes to `answered_cross_site`."""
        ...

    def answered_cross_site(self, upstream: Upstream, flow_id: str,
                            result: UpstreamAnswer | UpstreamFailure, *,
                            answers: Callable[[Flow], bool]) -> ResponseReturnValue:
        """A cross-site answer (the hub's POST, which brings no cookie), read before its flow is
        taken: the flow handed to `upstream` under `flow_id` is taken, the answer's ids marked
        seen and the answer kept for the browser that started the flow (which comes back with a
        same-site GET), in one round trip (ADR 25). `answers(flow)` is the plug-in's own check
        that `result` answers the request it sent for that flow. Then as `answered`."""
        ...

    def end_sessions(self, upstream: Upstream, subject: str) -> int:
        """The upstream logged the resident out (back-channel): their broker sessions end and
        their council apps are told. `subject` is what `logout_subject` gave at sign-in."""
        ...


class Upstream(abc.ABC):
    """One configured upstream identity service. Built by `broker.upstreams.registry`."""

    #: The registry's name for it: the configuration's `upstream.kind`, the metric label.
    name: str

    @property
    @abc.abstractmethod
    def clock_skew_seconds(self) -> int:
        """How far this service's clock may be from ours (freshness, `auth_time`)."""

    @abc.abstractmethod
    def hand_off(self, flow: Flow, *, force_login: bool) -> HandOff:
        """Sends the resident to the service for `flow` (its minimum level, language and id).

        `force_login`: the council asked for fresh authentication (`prompt=login`, `max_age`).
        Raises UpstreamFailure (UNAVAILABLE, or NOT_PROVEN for a level the service cannot
        give)."""

    @abc.abstractmethod
    def register(self, app: Flask, journey: Journey) -> None:
        """Registers the endpoints the service calls (one blueprint, the plug-in's own)."""

    @abc.abstractmethod
    def readiness(self) -> dict[str, dict[str, Any]]:
        """`/readyz` checks by name, each with an `ok` flag; no fetch beyond what a sign-in
        would do."""

    def present_metrics(self) -> Iterable[Any]:
        """Prometheus metric families describing the present (metadata age), read at scrape."""
        return ()

    @abc.abstractmethod
    def configuration_problems(self, *, offline: bool, now: datetime) -> Iterator[ConfigProblem]:
        """What `check-config` (and, offline, `serve`) reports about this upstream."""

    def logout_subject(self, identity: VerifiedIdentity) -> str | None:
        """The name under which this service's back-channel logout will name the resident whose
        sign-in gave `identity` (hashed: no personal data in the index); None without one."""
        return None
