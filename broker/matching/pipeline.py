"""GOV.UK Verify's matching cycles for one council (docs/architecture.md section 6).

    cycle 0  link store: this council already linked this hashed PID → matched, no call out
    cycle 1  the council's local matching service with the Matching Dataset
    cycle 3  one extra fact from the resident (the page is in `views`), then match again
    account creation, where the council allows it, on a final no-match: after the resident
             agreed on a page of its own (`views`), unless the council turned that question off
    otherwise: not found

The pipeline returns an `Outcome`; it never renders pages, so each branch can be tested without
a browser. A multiple-match answer is a no-match (and is logged as one). A failure of the
council's service or of the link store is `Unavailable`, never a no-match, and writes nothing.

A match is a link (council, hashed PID): Verify's services answer a bare `{"result": "match"}`,
and the council's apps know the resident by the hashed PID (the pairwise `sub`, ADR 0009). A
`localAccountId`, when the service gives one, is kept on the link and released as a claim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from broker.config import CouncilConfig, MatchingConfig
from broker.identity import VerifiedIdentity
from broker.matching.links import LinkStore
from broker.matching.local_matching import (
    CreationResult,
    DatasetSchema,
    LocalMatchingClient,
    MatchingServiceUnavailable,
    MatchResult,
    account_creation_attributes,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Matched:
    """Linked to the council's record; the council's own account id only if it gave one."""

    local_account_id: str | None
    how: str  # "cycle-0", "cycle-1", "cycle-3" or "account-creation"


@dataclass(frozen=True)
class NoMatchingConfigured:
    """The council chose `matching: none`: the app gets only the subject and verified claims."""


@dataclass(frozen=True)
class NeedsCycle3:
    """Cycle 1 said no-match and the council configured an extra fact to ask for."""


@dataclass(frozen=True)
class NeedsConsent:
    """A final no-match where the council creates accounts: the resident is asked first
    (GOV.UK Verify asked services to). `cycle3_answer` is kept for the account's attributes."""

    match_id: str
    cycle3_answer: str | None = None


@dataclass(frozen=True)
class ConsentDeclined:
    """The resident said no to a new account: nothing was created or linked."""


@dataclass(frozen=True)
class NotFound:
    """A final no-match and no account created: the resident meets the council's contacts."""


@dataclass(frozen=True)
class Unavailable:
    """The council's service or the link store failed; nothing was written."""

    reason: str


Outcome = (Matched | NoMatchingConfigured | NeedsCycle3 | NeedsConsent | ConsentDeclined | NotFound
           | Unavailable)

ClientFactory = Callable[[MatchingConfig], LocalMatchingClient]


def default_client(config: MatchingConfig) -> LocalMatchingClient:
    return LocalMatchingClient(config.service_url, config.bearer_token, config.timeout_seconds,
                               config.account_creation_url,
                               dataset_schema=DatasetSchema(config.dataset_schema))


class MatchingPipeline:
    """Runs the cycles; one instance per broker process, shared by every council."""

    def __init__(self, links: LinkStore | None, client_factory: ClientFactory = default_client):
        self.links = links
        self.client_factory = client_factory

    def start(self, council: CouncilConfig, identity: VerifiedIdentity, match_id: str) -> Outcome:
        """Cycle 0, then cycle 1; then cycle 3, account creation or not found."""
        if council.matching is None:
            return NoMatchingConfigured()
        try:
            link = self._links().seen(council.id, identity.hashed_pid)
        except SQLAlchemyError as exc:
            return self._unavailable(match_id, "link store", exc)
        if link is not None:
            self._record(match_id, council, "cycle 0", "match")
            return Matched(link.local_account_id, "cycle-0")
        return self._match(council, identity, match_id, cycle3=None)

    def answer_cycle3(self, council: CouncilConfig, identity: VerifiedIdentity, match_id: str,
                      answer: str) -> Outcome:
        """Matches again with the resident's answer to the council's cycle 3 question."""
        assert council.matching is not None and council.matching.cycle3 is not None
        return self._match(council, identity, match_id,
                           cycle3={council.matching.cycle3.attribute: answer})

    def _match(self, council: CouncilConfig, identity: VerifiedIdentity, match_id: str,
               cycle3: dict[str, str] | None) -> Outcome:
        assert council.matching is not None
        cycle = "cycle 3" if cycle3 is not None else "cycle 1"
        client = self.client_factory(council.matching)
        try:
            answer = client.match(match_id, identity, cycle3)
        except MatchingServiceUnavailable as exc:
            return self._unavailable(match_id, "matching service", exc)
        self._record(match_id, council, cycle, answer.result.value)
        if answer.result is MatchResult.MATCH:
            return self._link(council, identity, match_id, answer.local_account_id,
                              "cycle-3" if cycle3 is not None else "cycle-1")
        if cycle3 is None and council.matching.cycle3 is not None:
            return NeedsCycle3()
        if not council.matching.account_creation_url:
            return NotFound()
        if council.matching.account_creation_consent:
            return NeedsConsent(match_id, next(iter(cycle3.values())) if cycle3 else None)
        return self._create_account(council, identity, match_id, cycle3, client)

    def create_account(self, council: CouncilConfig, identity: VerifiedIdentity, match_id: str,
                       cycle3_answer: str | None) -> Outcome:
        """Account creation once the resident agreed to it (after `NeedsConsent`)."""
        assert council.matching is not None and council.matching.account_creation_url
        cycle3 = None
        if cycle3_answer is not None and council.matching.cycle3 is not None:
            cycle3 = {council.matching.cycle3.attribute: cycle3_answer}
        return self._create_account(council, identity, match_id, cycle3,
                                    self.client_factory(council.matching))

    def _create_account(self, council: CouncilConfig, identity: VerifiedIdentity, match_id: str,
                        cycle3: dict[str, str] | None, client: LocalMatchingClient) -> Outcome:
        assert council.matching is not None
        attributes = account_creation_attributes(
            identity, council.matching.account_creation_attributes, cycle3,
            DatasetSchema(council.matching.dataset_schema))
        try:
            answer = client.create_account(identity, attributes)
        except MatchingServiceUnavailable as exc:
            return self._unavailable(match_id, "account creation", exc)
        self._record(match_id, council, "account creation", answer.result.value)
        if answer.result is CreationResult.FAILURE:
            return NotFound()
        return self._link(council, identity, match_id, answer.local_account_id,
                          "account-creation")

    def _link(self, council: CouncilConfig, identity: VerifiedIdentity, match_id: str,
              local_account_id: str | None, how: str) -> Outcome:
        try:
            link, created = self._links().link(council.id, identity.hashed_pid, local_account_id,
                                               identity.level_of_assurance)
        except SQLAlchemyError as exc:
            return self._unavailable(match_id, "link store", exc)
        if not created:
            # A concurrent sign-in of the same person linked first; its link stands.
            log.info("matching %s: council %s: link already written by a concurrent sign-in",
                     match_id[:8], council.id)
        return Matched(link.local_account_id, how)

    def _links(self) -> LinkStore:
        if self.links is None:
            raise RuntimeError("matching is configured but no link store was built")
        return self.links

    @staticmethod
    def _record(match_id: str, council: CouncilConfig, step: str, result: str) -> None:
        # The outcome of every step, without any identifier of the person.
        log.info("matching %s: council %s: %s: %s", match_id[:8], council.id, step, result)

    @staticmethod
    def _unavailable(match_id: str, what: str, exc: Exception) -> Unavailable:
        log.warning("matching %s: %s unavailable: %s", match_id[:8], what, type(exc).__name__)
        return Unavailable(what)
