"""Every short-lived piece of sign-in state, its Redis key, its lifetime and its atomic operation.

The broker keeps no flow state in process memory, so any broker process can handle any step of
a sign-in (see docs/adr/0001-flow-state-in-redis.md). Everything written here has a TTL.

Every value is sealed (broker/sealing.py, ADR 0010) on its way to Redis and opened on its way
back, in `_call` and `_set`, the primitives every command passes through; only the kinds in
`READABLE_KINDS`, which hold no personal data, are stored as they are. A value that cannot be
opened reads as absent.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import redis

from broker.codec import decode, encode
from broker.config import RedisConfig
from broker.errors import StateUnavailable
from broker.identity import Flow, PendingMatch, VerifiedSignIn
from broker.observability import REDIS_ERRORS, REDIS_ROUND_TRIPS, SEALED_VALUES_REFUSED
from broker.sealing import SealedValueRefused, Sealer

__all__ = ["BrokerState", "StateUnavailable", "connect"]

log = logging.getLogger(__name__)

# Replay-cache marks and the hub's public metadata: no personal data, and `broker metadata
# status` reads them. Every other kind, including any added later, is sealed.
READABLE_KINDS = frozenset({"seen", "hub-metadata"})
# Kinds whose id is a bearer secret (a cookie, a token, a code, a form token, a RelayState): the
# key name holds its SHA-256, so reading Redis's key names gives nothing to present to the broker.
SECRET_ID_KINDS = frozenset({"flow", "code", "token", "par", "session", "pending-match",
                             "pending-consent", "verified-signin"})
# Values as compact JSON (no space after "," and ":"): every byte is kept in Redis for the
# value's lifetime. One encoder for the process (`json.dumps` with an option builds one per call).
_json = json.JSONEncoder(separators=(",", ":")).encode


def _record(cls: type, raw: bytes | None, kind: str):
    """A stored record read back; one written by an older release in another form counts as
    absent (the resident starts again) rather than failing the request."""
    if not raw:
        return None
    try:
        return decode(cls, json.loads(raw))
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("a stored %s could not be read (%s): treated as absent", kind,
                    type(exc).__name__)
        return None


class CountingConnection(redis.connection.Connection):
    """Counts writes to Redis: one per command, or one per pipeline (a round trip each)."""

    def send_packed_command(self, command, check_health=True):
        REDIS_ROUND_TRIPS.inc()
        return super().send_packed_command(command, check_health)


class CountingSSLConnection(redis.connection.SSLConnection, CountingConnection):
    pass


def connect(config: RedisConfig, *, allow_embedded: bool) -> redis.Redis:
    """A client for the configured Redis, or the in-process store for the demo when allowed.

    Timeouts are short on purpose: a hung Redis must fail a request quickly (the resident gets
    the "try again" page) rather than hold a worker.
    """
    timeouts = {"socket_connect_timeout": config.socket_timeout_seconds,
                "socket_timeout": config.socket_timeout_seconds}
    tls = config.url.startswith("rediss://")
    if config.sentinels:
        from redis.sentinel import Sentinel

        parsed = urlparse(config.url)
        sentinel = Sentinel(list(config.sentinels), sentinel_kwargs=timeouts, **timeouts)
        client = sentinel.master_for(
            config.sentinel_service, db=int(parsed.path.strip("/") or 0),
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None, ssl=tls,
            health_check_interval=30)
    else:
        connection_class = CountingSSLConnection if tls else CountingConnection
        client = redis.Redis.from_url(config.url, health_check_interval=30, **timeouts,
                                      **({} if config.url.startswith("unix://")
                                         else {"connection_class": connection_class}))
    try:
        client.ping()
        return client
    except redis.RedisError:
        if not (allow_embedded and config.embedded_fallback):
            raise
    import fakeredis

    log.warning("no Redis answered at the configured URL: using the in-process store "
                "(demo only; state is lost on restart and not shared between processes)")
    return fakeredis.FakeRedis()


class BrokerState:
    """Typed access to the broker's Redis keys; one place for names, TTLs and atomicity."""

    def __init__(self, client: redis.Redis, prefix: str, sealer: Sealer | None = None):
        """Without a sealer only the READABLE_KINDS can be used (replay caches, hub metadata)."""
        self.redis = client
        self.prefix = prefix
        self.sealer = sealer
        self._local = threading.local()
        for kind in SECRET_ID_KINDS:  # a zero series from the start, for the alert's rate()
            SEALED_VALUES_REFUSED.labels(kind)

    def _key(self, kind: str, ident: str) -> str:
        if kind in SECRET_ID_KINDS:
            ident = hashlib.sha256(ident.encode()).hexdigest()
        return f"{self.prefix}{kind}:{ident}"

    def key_for(self, kind: str, ident: str) -> str:
        """The Redis key name of one item, for operators and tests."""
        return self._key(kind, ident)

    def _sealed(self, key: str) -> bool:
        return key[len(self.prefix):].partition(":")[0] not in READABLE_KINDS

    def _seal(self, key: str, value: str | bytes) -> str | bytes:
        if not self._sealed(key):
            return value
        if self.sealer is None:
            raise RuntimeError("BrokerState has no data key to seal personal data with")
        return self.sealer.seal(key, value.encode() if isinstance(value, str) else value)

    def _open(self, key: str, raw: bytes | None) -> bytes | None:
        if raw is None or not self._sealed(key):
            return raw
        try:
            if self.sealer is None:
                raise SealedValueRefused("no data key configured")
            return self.sealer.open(key, raw)
        except SealedValueRefused as exc:
            kind = key[len(self.prefix):].partition(":")[0]
            SEALED_VALUES_REFUSED.labels(kind).inc()
            log.warning("a stored %s could not be opened, treated as absent: %s", kind, exc)
            return None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One Redis command; a SET's value is sealed and a GET's or GETDEL's opened here."""
        if method == "set":
            args = (args[0], self._seal(args[0], args[1]), *args[2:])
        try:
            result = getattr(self.redis, method)(*args, **kwargs)
        except redis.RedisError as exc:
            REDIS_ERRORS.inc()
            raise StateUnavailable(str(exc)) from exc
        if method in ("get", "getdel"):
            return self._open(args[0], result)
        return result

    @contextmanager
    def batched_writes(self) -> Iterator[None]:
        """Writes that need no answer (SETs with a TTL) made inside go to Redis in one round trip
        when the block ends, and not at all when it raises. One request runs on one thread."""
        if getattr(self._local, "pipeline", None) is not None:
            yield
            return
        pipeline = self._local.pipeline = self.redis.pipeline(transaction=False)
        try:
            yield
        finally:
            self._local.pipeline = None
        if len(pipeline):
            self._call_pipeline(pipeline)

    def _set(self, key: str, value: str | bytes, ttl: int) -> None:
        pipeline = getattr(self._local, "pipeline", None)
        if pipeline is not None:
            pipeline.set(key, self._seal(key, value), ex=ttl)
        else:
            self._call("set", key, value, ex=ttl)

    # Flows: written at /authorize, taken once at the assertion consumer service.
    def save_flow(self, flow: Flow, ttl: int) -> None:
        self._set(self._key("flow", flow.id), _json(encode(flow)), ttl)

    def take_flow(self, flow_id: str) -> Flow | None:
        raw = self._call("getdel", self._key("flow", flow_id))
        return _record(Flow, raw, "flow")

    # Verified sign-ins: written at the ACS, taken once by the browser that started the flow.
    def save_verified_signin(self, token: str, signin: VerifiedSignIn, ttl: int) -> None:
        self._set(self._key("verified-signin", token), _json(encode(signin)), max(ttl, 1))

    def take_verified_signin(self, token: str) -> VerifiedSignIn | None:
        raw = self._call("getdel", self._key("verified-signin", token))
        return _record(VerifiedSignIn, raw, "verified sign-in")

    # Authorization codes: single use by an atomic take.
    def save_code(self, code: str, data: dict[str, Any], ttl: int) -> None:
        self._set(self._key("code", code), _json(data), ttl)

    def take_code(self, code: str) -> dict[str, Any] | None:
        raw = self._call("getdel", self._key("code", code))
        return json.loads(raw) if raw else None

    # Access tokens: opaque, looked up at /userinfo.
    def save_access_token(self, token: str, data: dict[str, Any], ttl: int,
                          code_id: str | None = None, sid: str | None = None) -> bool:
        """The token, which code obtained it (for a replayed code to revoke it) and which broker
        session it belongs to (for logout to revoke it), and whether that session has been
        logged out: one round trip. False, and nothing kept, when it has.

        The session's check comes after the token joins the session's index, and logout marks
        the session ended before it reads the index (`end_session_grants`): Redis runs commands
        one at a time, so whichever reaches it first, a logout either sees the token and deletes
        it or is seen here."""
        pipe = self.redis.pipeline(transaction=False)
        token_key = self._key("token", token)
        pipe.set(token_key, self._seal(token_key, _json(data)), ex=ttl)
        code_token_key = self._key("code-token", code_id) if code_id else None
        if code_token_key:
            pipe.set(code_token_key, self._seal(code_token_key, token), ex=ttl)
        if sid:  # the token's key name (a hash), never the token itself
            pipe.sadd(self._key("session-tokens", sid), token_key)
            pipe.expire(self._key("session-tokens", sid), ttl)  # every token lives `ttl`
            pipe.exists(self._key("ended-session", sid))
        results = self._call_pipeline(pipe)
        if sid and results[-1]:
            self._call("delete", *[k for k in (token_key, code_token_key) if k])
            return False
        return True

    def get_access_token(self, token: str) -> dict[str, Any] | None:
        raw = self._call("get", self._key("token", token))
        return json.loads(raw) if raw else None

    def revoke_tokens_of_code(self, code_id: str) -> int:
        """A replayed code: delete the access token its first use obtained (RFC 6749 4.1.2)."""
        token = self._call("getdel", self._key("code-token", code_id))
        if token:
            self._call("delete", self._key("token", token.decode()))
        return 1 if token else 0

    def _call_pipeline(self, pipe) -> list[Any]:
        try:
            return pipe.execute()
        except redis.RedisError as exc:
            REDIS_ERRORS.inc()
            raise StateUnavailable(str(exc)) from exc

    # Pushed authorization requests (RFC 9126): single use by an atomic take.
    def save_pushed_request(self, request_uri: str, data: dict[str, Any], ttl: int) -> None:
        self._call("set", self._key("par", request_uri), _json(data), ex=ttl)

    def take_pushed_request(self, request_uri: str) -> dict[str, Any] | None:
        raw = self._call("getdel", self._key("par", request_uri))
        return json.loads(raw) if raw else None

    # Broker sessions: idle timeout by TTL, absolute lifetime by the stored creation time.
    def save_session(self, session_id: str, data: dict[str, Any], ttl: int) -> None:
        self._set(self._key("session", session_id), _json(data), max(ttl, 1))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        raw = self._call("get", self._key("session", session_id))
        return json.loads(raw) if raw else None

    def take_session(self, session_id: str) -> dict[str, Any] | None:
        raw = self._call("getdel", self._key("session", session_id))
        return json.loads(raw) if raw else None

    def end_session_grants(self, sid: str, ttl: int) -> None:
        """Logout: the session's codes not yet redeemed are refused from now on, for as long as
        any of them could live, and its access tokens are deleted. The mark is set before the
        token index is read (see `save_access_token`)."""
        key = self._key("session-tokens", sid)
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(self._key("ended-session", sid), b"1", ex=max(ttl, 1))
        pipe.smembers(key)
        _marked, tokens = self._call_pipeline(pipe)
        self._call("delete", *tokens, key)

    # Replay caches: the first to set the id wins, across every broker process.
    def first_sighting(self, kind: str, ident: str, ttl: int) -> bool:
        return self.first_sightings([(kind, ident, ttl)])[0]

    def first_sightings(self, sightings: list[tuple[str, str, int]]) -> list[bool]:
        """(kind, id, ttl) each marked seen in one round trip; True where this was the first."""
        pipeline = self.redis.pipeline(transaction=False)
        for kind, ident, ttl in sightings:
            pipeline.set(self._key(f"seen:{kind}", ident), b"1", nx=True, ex=max(ttl, 1))
        return [bool(result) for result in self._call_pipeline(pipeline)]

    # Hub metadata: one verified copy shared by every process (kept until its validUntil), a
    # claim so that one process at a time fetches it, and the outcome of the last refresh.
    def get_hub_metadata(self) -> dict[str, Any] | None:
        raw = self._call("get", self._key("hub-metadata", "current"))
        return json.loads(raw) if raw else None

    def save_hub_metadata(self, xml: str, fetched_at: float, ttl: int) -> None:
        self._call("set", self._key("hub-metadata", "current"),
                   _json({"xml": xml, "fetched_at": fetched_at}), ex=max(ttl, 1))

    def claim_hub_metadata_refresh(self, ttl: int) -> bool:
        """True for the one process that may fetch now; the claim lapses after `ttl` seconds."""
        return bool(self._call("set", self._key("hub-metadata", "refresh-claim"), b"1",
                               nx=True, ex=max(ttl, 1)))

    def release_hub_metadata_refresh(self) -> None:
        self._call("delete", self._key("hub-metadata", "refresh-claim"))

    def save_hub_metadata_status(self, data: dict[str, Any], ttl: int) -> None:
        self._call("set", self._key("hub-metadata", "status"), _json(data),
                   ex=max(ttl, 1))

    def get_hub_metadata_status(self) -> dict[str, Any] | None:
        raw = self._call("get", self._key("hub-metadata", "status"))
        return json.loads(raw) if raw else None

    def ping(self) -> bool:
        try:
            return bool(self.redis.ping())
        except redis.RedisError:
            return False

    # Pending matches: a verified sign-in waiting on the cycle 3 page (broker.journey).
    # Holds the Matching Dataset, so it lives no longer than a flow and is taken once.
    def save_pending_match(self, token: str, pending: PendingMatch, ttl: int) -> None:
        self._call("set", self._key("pending-match", token), _json(encode(pending)),
                   ex=max(ttl, 1))

    def get_pending_match(self, token: str) -> PendingMatch | None:
        raw = self._call("get", self._key("pending-match", token))
        return _record(PendingMatch, raw, "pending match")

    def take_pending_match(self, token: str) -> PendingMatch | None:
        raw = self._call("getdel", self._key("pending-match", token))
        return _record(PendingMatch, raw, "pending match")

    def update_pending_match(self, token: str, pending: PendingMatch) -> bool:
        """Rewrites a pending match that is still there, keeping its lifetime (SET XX KEEPTTL):
        False when it was taken (answered, in another tab) or expired meanwhile, so an update
        never brings a finished sign-in back."""
        return bool(self._call("set", self._key("pending-match", token), _json(encode(pending)),
                               xx=True, keepttl=True))

    # Waiting on the account-creation question (broker.matching.views): read at every reload of
    # its page, taken once by the answer. Its own keys: a cycle 3 token is no answer here.
    def save_pending_consent(self, token: str, pending: PendingMatch, ttl: int) -> None:
        self._call("set", self._key("pending-consent", token), _json(encode(pending)),
                   ex=max(ttl, 1))

    def get_pending_consent(self, token: str) -> PendingMatch | None:
        raw = self._call("get", self._key("pending-consent", token))
        return _record(PendingMatch, raw, "pending consent")

    def take_pending_consent(self, token: str) -> PendingMatch | None:
        raw = self._call("getdel", self._key("pending-consent", token))
        return _record(PendingMatch, raw, "pending consent")

    # Broker sessions by upstream subject, so that an upstream's back-channel logout (One Login's)
    # can end them: under a hash of the upstream's issuer and subject, a set of the sessions' key
    # names (hashes, like "session-tokens"), never a session id that could be presented.
    def add_upstream_session(self, subject: str, session_id: str, ttl: int) -> None:
        key = self._key("upstream-sessions", subject)
        pipeline = getattr(self._local, "pipeline", None)
        pipe = pipeline if pipeline is not None else self.redis.pipeline(transaction=False)
        pipe.sadd(key, self._key("session", session_id))
        pipe.expire(key, max(ttl, 1))
        if pipeline is None:
            self._call_pipeline(pipe)

    def take_upstream_sessions(self, subject: str) -> list[str]:
        """The key names of the subject's sessions (some may have ended since), once."""
        pipe = self.redis.pipeline(transaction=True)
        key = self._key("upstream-sessions", subject)
        pipe.smembers(key)
        pipe.delete(key)
        members, _deleted = self._call_pipeline(pipe)
        names = sorted(m.decode() if isinstance(m, bytes) else m for m in members)
        return [name for name in names if name.startswith(f"{self.prefix}session:")]

    def take_session_at(self, key_name: str) -> dict[str, Any] | None:
        """A session by its key name (from `take_upstream_sessions`), deleted as it is read."""
        if not key_name.startswith(f"{self.prefix}session:"):
            return None
        raw = self._call("getdel", key_name)
        return json.loads(raw) if raw else None
