"""The broker session: one resident's verified identity, shared by the council apps they use.

Kept in Redis behind an opaque cookie (`broker_session`, named in broker/web/cookies.py); the
cookie holds no identity data. The session has an idle timeout (the key's TTL, renewed on use)
and an absolute lifetime (its creation time). A second council app's sign-in reuses it only
where the level of assurance and `max_age` allow.

A browser holds at most one live session (docs/adr/0013-one-session-per-browser.md): a fresh
hub sign-in of the same resident renews it (new id, same `sid` and list of apps), a different
resident's ends it first. Ending a session revokes its access tokens and unredeemed codes.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass, field

from broker.codec import decode, encode
from broker.identity import LevelOfAssurance, VerifiedIdentity
from broker.pairwise import hash_pid

MAX_ID_LENGTH = 100


@dataclass
class BrokerSession:
    id: str
    sid: str
    identity: VerifiedIdentity
    created_at: int
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> sub it received

    def satisfies(self, minimum: LevelOfAssurance, max_age: int | None, now: float) -> bool:
        level = self.identity.level_of_assurance
        if level.value < minimum.value:
            return False
        return max_age is None or now - self.identity.authenticated_at <= max_age

    def identity_for(self, council_entity_id: str) -> VerifiedIdentity:
        """The same verified resident, with the hashed PID of another council."""
        identity = self.identity
        return dataclasses.replace(identity, hashed_pid=hash_pid(
            identity.issuer, council_entity_id, identity.persistent_id,
            identity.level_of_assurance))


class SessionStore:
    def __init__(self, state, idle_seconds: int, absolute_seconds: int,
                 grants_ttl_seconds: int = 3600):
        self.state = state
        self.idle_seconds = idle_seconds
        self.absolute_seconds = absolute_seconds
        self.grants_ttl_seconds = grants_ttl_seconds  # the longest a code or access token lives

    def _ttl(self, session: BrokerSession, now: float) -> int:
        remaining = session.created_at + self.absolute_seconds - now
        return int(min(self.idle_seconds, remaining))

    def load(self, session_id: str | None, now: float | None = None) -> BrokerSession | None:
        if not session_id or len(session_id) > MAX_ID_LENGTH:
            return None
        now = time.time() if now is None else now
        data = self.state.get_session(session_id)
        session = self._read(session_id, data)
        if session is None:
            return None
        if self._ttl(session, now) <= 0:
            self.state.take_session(session_id)
            return None
        return session

    @staticmethod
    def _read(session_id: str, data: dict | None) -> BrokerSession | None:
        """The key is the id; a session stored by an older release in another form is no
        session (the resident signs in again), never a failed request."""
        if not data:
            return None
        try:
            return decode(BrokerSession, {**data, "id": session_id})
        except (KeyError, TypeError, ValueError):
            return None

    def new(self, identity: VerifiedIdentity, now: float | None = None) -> BrokerSession:
        """A session for a fresh hub sign-in; stored by the caller's `save` once complete."""
        now = time.time() if now is None else now
        return BrokerSession(secrets.token_urlsafe(32), secrets.token_urlsafe(16), identity,
                             int(now))

    def renewed(self, session: BrokerSession, identity: VerifiedIdentity,
                now: float | None = None) -> BrokerSession:
        """The same resident authenticated afresh: a new id (no fixation) and a new lifetime,
        the same `sid` and apps, so that logout still reaches every app of the browser. The old
        id is deleted now; the caller saves the result."""
        now = time.time() if now is None else now
        self.state.take_session(session.id)
        return BrokerSession(secrets.token_urlsafe(32), session.sid, identity, int(now),
                             dict(session.clients))

    def save(self, session: BrokerSession, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.state.save_session(session.id, encode(session), self._ttl(session, now))

    def end(self, session_id: str) -> BrokerSession | None:
        """Deletes the session and revokes what it granted: its access tokens at once, its
        codes when they are redeemed. The caller notifies its apps (back-channel logout)."""
        return self._ended(self._read(session_id, self.state.take_session(session_id)))

    def end_at(self, key_name: str) -> BrokerSession | None:
        """`end` for a session known by its key name only (an upstream's logout index)."""
        data = self.state.take_session_at(key_name)
        return self._ended(self._read(data.get("id", ""), data) if data else None)

    def _ended(self, session: BrokerSession | None) -> BrokerSession | None:
        if session is None:
            return None
        self.state.end_session_grants(session.sid, self.grants_ttl_seconds)
        return session
