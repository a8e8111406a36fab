"""Every short-lived piece of sign-in state, its Redis key, its lifetime and its atomic operation.

The broker keeps no flow state in process memory, so any broker process can handle any step of
a sign-in (see docs/adr/0001-flow-state-in-redis.md). Everything written here has a TTL.

Every value is sealed (broker/sealing.py, ADR 0010) on its way to Redis and opened on its way
back, in `_call` and `_set`, the primitives every command passes through; only the kinds in
`READABLE_KINDS`, which hold no personal data, are stored as they are. A value that cannot be
opened reads as absent.

Those primitives (`_call`, `_call_pipeline`) also carry riders: commands another part of the
process wants sent to this Redis (the rate limiter's settlements, broker.ratelimit_storage) go
along with the request's next round trip instead of costing one of their own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlparse

import redis

from broker.codec import decode, encode
from broker.config import RedisConfig
from broker.errors import StateUnavailable
from broker.identity import Flow, PendingMatch
from broker.observability import REDIS_ERRORS, REDIS_ROUND_TRIPS, SEALED_VALUES_REFUSED
from broker.sealing import SealedValueRefused, Sealer

__all__ = ["BrokerState", "StateUnavailable", "connect"]

T = TypeVar("T")

log = logging.getLogger(__name__)

# Replay-cache marks and the hub's public metadata: no personal data, and `broker metadata
# status` reads them. Every other kind, including any added later, is sealed.
READABLE_KINDS = frozenset({"seen", "hub-metadata"})
# Kinds whose id is a bearer secret (a cookie, a token, a code, a form token, a RelayState): the
# key name holds its SHA-256, so reading Redis's key names gives nothing to present to the broker.
SECRET_ID_KINDS = frozenset({"flow", "code", "token", "par", "session", "pending-match",
                             "pending-consent", "verified-signin", "answered-flow"})
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


class Riders(Protocol):
    """Commands that ride along with one round trip: `queue` adds them to its pipeline, behind
    the caller's; then exactly one of `answered` (their results) or `failed` is called."""

    def queue(self, pipe: redis.client.Pipeline) -> None: ...

    def answered(self, results: list[Any]) -> None: ...

    def failed(self, exc: BaseException) -> None: ...


class BrokerState:
    """Typed access to the broker's Redis keys; one place for names, TTLs and atomicity."""

    def __init__(self, client: redis.Redis, prefix: str, sealer: Sealer | None = None):
        """Without a sealer only the READABLE_KINDS can be used (replay caches, hub metadata)."""
        self.redis = client
        self.prefix = prefix
        self.sealer = sealer
        self._local = threading.local()
        self._take_riders: Callable[[], Riders | None] | None = None
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

    def carry_riders(self, take: Callable[[], Riders | None]) -> None:
        """From now on every round trip first calls `take` and carries what it returns: a single
        command becomes a pipeline with the riders behind it, still one round trip, and the
        caller sees only its own results and errors. `take` gives commands for this client's
        Redis (the same server and database) under keys of their own."""
        self._take_riders = take

    def _riders(self) -> Riders | None:
        take = self._take_riders
        return take() if take is not None else None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One Redis command; a SET's value is sealed and a GET's or GETDEL's opened here."""
        if method == "set":
            args = (args[0], self._seal(args[0], args[1]), *args[2:])
        riders = self._riders()
        try:
            if riders is None:
                result = getattr(self.redis, method)(*args, **kwargs)
            else:
                try:
                    pipe = self.redis.pipeline(transaction=False)
                    getattr(pipe, method)(*args, **kwargs)
                except BaseException as exc:
                    riders.failed(exc)
                    raise
                [result] = self._execute(pipe, True, riders)
        except redis.RedisError as exc:
            REDIS_ERRORS.inc()
            raise StateUnavailable(str(exc)) from exc
        if method in ("get", "getdel"):
            return self._open(args[0], result)
        return result

    @staticmethod
    def _execute(pipe: redis.client.Pipeline, raise_on_error: bool,
                 riders: Riders | None) -> list[Any]:
        """`pipe` in one round trip, `riders` behind the caller's commands; the caller gets its
        own results, and its own first error raised when `raise_on_error`."""
        if riders is None:
            return pipe.execute(raise_on_error=raise_on_error)
        own = len(pipe)
        try:
            riders.queue(pipe)
            results = pipe.execute(raise_on_error=False)
        except BaseException as exc:
            riders.failed(exc)
            raise
        riders.answered(results[own:])
        results = results[:own]
        if raise_on_error:
            for result in results:
                if isinstance(result, redis.ResponseError):
                    raise result
        return results

    @contextmanager
    def batched_writes(self) -> Iterator[None]:
        """Writes that need no answer (SETs with a TTL) made inside go to Redis in one round trip
        when the block ends, and not at all when it raises. One request runs on one thread.

        A command whose answer matters (the ended-session check of `save_code_and_token`)
        rides along with a follow-up, called with its answer once the pipeline has run."""
        if getattr(self._local, "pipeline", None) is not None:
            yield
            return
        pipeline = self._local.pipeline = self.redis.pipeline(transaction=False)
        followups = self._local.followups = []
        try:
            yield
        finally:
            self._local.pipeline = self._local.followups = None
        if len(pipeline):
            results = self._call_pipeline(pipeline)
            for position, followup in followups:
                followup(results[position])

    def _set(self, key: str, value: str | bytes, ttl: int) -> None:
        pipeline = getattr(self._local, "pipeline", None)
        if pipeline is not None:
            pipeline.set(key, self._seal(key, value), ex=ttl)
        else:
            self._call("set", key, value, ex=ttl)

    # Flows: written at /authorize, taken once at the assertion consumer service.
    def save_flow(self, flow: Flow, ttl: int) -> None:
        self._set(self._key("flow", flow.id), _json(encode(flow)), ttl)

    def peek_flow(self, flow_id: str) -> Flow | None:
        """The flow, left in place (an answer for a flow an earlier release started: ADR 25)."""
        raw = self._call("get", self._key("flow", flow_id))
        return _record(Flow, raw, "flow")

    def take_flow(self, flow_id: str) -> Flow | None:
        raw = self._call("getdel", self._key("flow", flow_id))
        return _record(Flow, raw, "flow")

    # Cross-site answers (the hub's POST brings no cookie; ADR 12, ADR 24). At the assertion
    # consumer service one round trip takes the flow (renamed under the answer's token, still
    # sealed under its own name), marks the answer's ids seen and keeps the answer; the browser
    # that started the flow then takes both in one round trip. A token is known only to the
    # request that made it until its 303 carries it.
    def take_flow_for_answer(self, flow_id: str, sightings: list[tuple[str, str, int]],
                             keep: tuple[str, Any, int] | None) -> tuple[Flow | None, list[bool]]:
        """The flow (None: unknown or used) and, per sighting, whether it was the first; `keep`
        (token, answer record, ttl) is kept for `take_answer` whatever the outcome, so a caller
        that refuses the answer afterwards calls `discard_answer`."""
        flow_key = self._key("flow", flow_id)
        pipeline = self.redis.pipeline(transaction=False)
        if keep is None:
            pipeline.getdel(flow_key)
        else:
            token, answer, ttl = keep
            answered_key, kept_key = self._answer_keys(token)
            pipeline.rename(flow_key, answered_key)  # an error, not an exception, when absent
            pipeline.get(answered_key)
            pipeline.expire(answered_key, max(ttl, 1))
            pipeline.set(kept_key, self._seal(kept_key, _json({
                "flow_id": flow_id, "answer": encode(answer)})), ex=max(ttl, 1))
        self._mark_seen(pipeline, sightings)
        results = self._call_pipeline(pipeline, raise_on_error=False)
        raw = results[0] if keep is None else results[1]
        flow = _record(Flow, self._open(flow_key, raw if isinstance(raw, bytes) else None), "flow")
        firsts = [result is True for result in results[len(results) - len(sightings):]]
        return flow, firsts

    def take_answer(self, token: str, answer_type: type[T]) -> tuple[Flow, T] | None:
        answered_key, kept_key = self._answer_keys(token)
        pipeline = self.redis.pipeline(transaction=False)
        pipeline.getdel(kept_key)
        pipeline.getdel(answered_key)
        kept, raw_flow = self._call_pipeline(pipeline)
        kept = self._open(kept_key, kept)
        if not kept:
            return None
        try:
            record = json.loads(kept)
            flow_id, answer = record["flow_id"], decode(answer_type, record["answer"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("a kept answer could not be read (%s): treated as absent",
                        type(exc).__name__)
            return None
        flow = _record(Flow, self._open(self._key("flow", flow_id), raw_flow), "flow")
        return (flow, answer) if flow is not None else None

    def discard_answer(self, token: str) -> None:
        self._call("delete", *self._answer_keys(token))

    def _answer_keys(self, token: str) -> tuple[str, str]:
        return self._key("answered-flow", token), self._key("verified-signin", token)

    # Authorization codes and their access tokens (issue 27, ADR 0024): the access token is made
    # and stored with its code, so that redeeming the code is one atomic take.
    def save_code_and_token(self, code: str, data: dict[str, Any], code_ttl: int, token: str,
                            token_data: dict[str, Any], token_ttl: int, code_id: str,
                            sid: str | None) -> None:
        """The code (its record holds the access token, for `/token` to return), the access
        token, which token the code obtains (for a replayed code to revoke it, RFC 6749 4.1.2)
        and, under the broker session, the code's and the token's key names (for logout to
        delete both), with a check of the session's ended mark: one round trip, the request's
        batch (`batched_writes`) when there is one.

        Nobody can present the token before `/token` returns it: its key holds the token's
        SHA-256 and the token itself is only inside the code's sealed record.

        Logout sets the ended mark before it reads the session's index (`end_session_grants`)
        and the index is written here before the mark is checked: Redis runs commands one at a
        time, so whichever reaches it first, a logout either finds the code and the token and
        deletes them, or its mark is seen here and they are deleted (one more round trip, on
        that path only: the code then redeems as not valid)."""
        pipe = self._batch_or_pipeline()
        code_key = self._key("code", code)
        token_key = self._key("token", token)
        code_token_key = self._key("code-token", code_id)
        pipe.set(code_key, self._seal(code_key, _json({**data, "access_token": token})),
                 ex=code_ttl)
        pipe.set(token_key, self._seal(token_key, _json(token_data)), ex=token_ttl)
        # the token's key name (a hash), never the token itself
        pipe.set(code_token_key, self._seal(code_token_key, token_key), ex=token_ttl)
        if sid:
            index = self._key("session-tokens", sid)
            pipe.sadd(index, code_key, token_key)
            pipe.expire(index, token_ttl)  # every token lives `token_ttl`, every code less
        self._unless_ended(pipe, sid, (code_key, token_key, code_token_key))

    def _batch_or_pipeline(self):
        batch = getattr(self._local, "pipeline", None)
        return batch if batch is not None else self.redis.pipeline(transaction=False)

    def _unless_ended(self, pipe, sid: str | None, keys: tuple[str, ...]) -> None:
        """After the writes in `pipe`, the broker session `sid`'s ended mark is checked in the
        same round trip, and `keys` are deleted when it is set (one more round trip, on that
        path only). `pipe` is the request's batch (run when it ends) or its own pipeline (run
        now)."""
        batch = getattr(self._local, "pipeline", None)
        if sid:
            pipe.exists(self._key("ended-session", sid))

        def delete_if_ended(ended: int) -> None:
            if ended:
                self._call("delete", *keys)

        if pipe is batch:
            if sid:
                self._local.followups.append((len(pipe) - 1, delete_if_ended))
        elif sid:
            delete_if_ended(self._call_pipeline(pipe)[-1])
        else:
            self._call_pipeline(pipe)

    def take_code(self, code: str) -> dict[str, Any] | None:
        raw = self._call("getdel", self._key("code", code))
        return json.loads(raw) if raw else None

    def discard_code_token(self, token: str, code_id: str) -> None:
        """A code taken but refused (another client, PKCE, redirect_uri): the token made with
        it is deleted, with its code's link to it."""
        self._call("delete", self._key("token", token), self._key("code-token", code_id))

    # Access tokens: opaque, looked up at /userinfo.
    def get_access_token(self, token: str) -> dict[str, Any] | None:
        raw = self._call("get", self._key("token", token))
        return json.loads(raw) if raw else None

    def revoke_tokens_of_code(self, code_id: str) -> int:
        """A replayed (or expired, or logged-out) code: delete the access token made with it
        (RFC 6749 4.1.2), whether or not its first use obtained it."""
        linked = self._call("getdel", self._key("code-token", code_id))
        if not linked:
            return 0
        linked = linked.decode()
        # the token's key name; a release before ADR 0024 stored the token itself
        token_key = (linked if linked.startswith(f"{self.prefix}token:")
                     else self._key("token", linked))
        return self._call("delete", token_key)

    def _call_pipeline(self, pipe, raise_on_error: bool = True) -> list[Any]:
        riders = self._riders()
        try:
            return self._execute(pipe, raise_on_error, riders)
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
        """Not kept when its `sid` was logged out meanwhile: a single sign-on or a renewal that
        read the session just before a logout in another tab ended it would otherwise write it
        back. Checked after the write, in the same round trip (see `save_code_and_token`)."""
        key = self._key("session", session_id)
        pipe = self._batch_or_pipeline()
        pipe.set(key, self._seal(key, _json(data)), ex=max(ttl, 1))
        self._unless_ended(pipe, data.get("sid"), (key,))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        raw = self._call("get", self._key("session", session_id))
        return json.loads(raw) if raw else None

    def take_session(self, session_id: str) -> dict[str, Any] | None:
        raw = self._call("getdel", self._key("session", session_id))
        return json.loads(raw) if raw else None

    def end_session_grants(self, sid: str, ttl: int) -> None:
        """Logout: the session's codes not yet redeemed and its access tokens are deleted, and
        a code or token still being written for it is deleted once written, as long as the mark
        lives (`ttl`: the longest a code or token can). The mark is set before the index is
        read (see `save_code_and_token`)."""
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
        self._mark_seen(pipeline, sightings)
        return [bool(result) for result in self._call_pipeline(pipeline)]

    def _mark_seen(self, pipeline, sightings: list[tuple[str, str, int]]) -> None:
        for kind, ident, ttl in sightings:
            pipeline.set(self._key(f"seen:{kind}", ident), b"1", nx=True, ex=max(ttl, 1))

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
