"""The broker session: one resident's verified identity, shared by the council apps they use.

Kept in Redis behind an opaque cookie; the cookie holds no identity data. The session has an
idle timeout (the key's TTL, renewed on use) and an absolute lifetime (its creation time). A
second council app's sign-in reuses it only where the level of assurance and `max_age` allow.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from broker.hub.pid import hash_pid
from broker.identity import LevelOfAssurance, VerifiedIdentity

COOKIE_NAME = "broker_session"


@dataclass
class BrokerSession:
    id: str
    sid: str
    identity: VerifiedIdentity
    created_at: int
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> sub it received

    def to_json_dict(self) -> dict[str, Any]:
        return {"sid": self.sid, "identity": self.identity.to_json_dict(),
                "created_at": self.created_at, "clients": self.clients}

    @classmethod
    def from_json_dict(cls, session_id: str, data: dict[str, Any]) -> BrokerSession:
        return cls(session_id, data["sid"], VerifiedIdentity.from_json_dict(data["identity"]),
                   data["created_at"], dict(data.get("clients") or {}))

    def satisfies(self, minimum: LevelOfAssurance, max_age: int | None, now: float) -> bool:
        level = self.identity.level_of_assurance
        if level.value < minimum.value:
            return False
        return max_age is None or now - self.identity.authenticated_at <= max_age

    def identity_for(self, council_entity_id: str) -> VerifiedIdentity:
        """The same verified resident, with the hashed PID of another council."""
        identity = self.identity
        return VerifiedIdentity(
            hashed_pid=hash_pid(identity.issuer, council_entity_id, identity.persistent_id,
                                identity.level_of_assurance),
            level_of_assurance=identity.level_of_assurance,
            matching_dataset=identity.matching_dataset, issuer=identity.issuer,
            authenticated_at=identity.authenticated_at, persistent_id=identity.persistent_id)


class SessionStore:
    def __init__(self, state, idle_seconds: int, absolute_seconds: int):
        self.state = state
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds

    def _ttl(self, session: BrokerSession, now: float) -> int:
        remaining = session.created_at + self.absolute_seconds - now
        return int(min(self.idle_seconds, remaining))

    def load(self, session_id: str | None, now: float | None = None) -> BrokerSession | None:
        if not session_id or len(session_id) > 100:
            return None
        now = time.time() if now is None else now
        data = self.state.get_session(session_id)
        if data is None:
            return None
        session = BrokerSession.from_json_dict(session_id, data)
        if self._ttl(session, now) <= 0:
            self.state.take_session(session_id)
            return None
        return session

    def new(self, identity: VerifiedIdentity, now: float | None = None) -> BrokerSession:
        """A session for a fresh hub sign-in; stored by the caller's `save` once complete."""
        now = time.time() if now is None else now
        return BrokerSession(secrets.token_urlsafe(32), secrets.token_urlsafe(16), identity,
                             int(now))

    def save(self, session: BrokerSession, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.state.save_session(session.id, session.to_json_dict(), self._ttl(session, now))

    def end(self, session_id: str) -> BrokerSession | None:
        data = self.state.take_session(session_id)
        return BrokerSession.from_json_dict(session_id, data) if data else None
