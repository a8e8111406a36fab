"""A `limits` storage that counts in process memory and settles with Redis in
batches, so that a rate limit costs (almost) no Redis round trip per request while every broker
process still shares one count.

How it counts (fixed windows, the only strategy the broker uses):

- Windows are aligned on the clock: a "120/minute" window is a calendar minute (UTC), so every
  process agrees on the window without asking Redis, and its end (Retry-After) is known locally.
  Each window is its own Redis key, `<prefix>ratelimit:<limits' key>@<window number>`, which
  expires a moment after the window ends.
- Each process keeps, per limit key, the shared count it last read from Redis and the hits it
  has taken since (pending). A request is allowed when shared + pending is within the limit.
- Pending hits go to Redis with an INCRBY + EXPIREAT (2 commands), which also returns the fresh
  shared count. The hit settles them in a round trip of its own, before it is decided, when any
  of these holds:
    * pending reaches the batch size, max(1, limit × `rate_limits.batch_fraction`), 1/20 of the
      limit by default: a "3000/minute" key settles at least every 150 hits per process, a
      "2/minute" key (batch 1) on every hit, exactly as a plain Redis counter would;
    * the count is within one batch of the limit (then every hit settles until the limit is
      reached, so the limit itself is decided on fresh shared counts);
    * the key last settled more than a second ago (counted from its first hit), so slow steady
      traffic spread over many processes still reaches the shared count; where settlements
      ride along (below), a second after that settlement was offered and nobody took it.
  A key with a single hit in its window (a resident's own address, typically) never costs a
  round trip. No background thread: settling happens on a request (the one that triggers it,
  or the one it rides along with).
- Riding along (`rides_along`: the broker's Redis state, on the same client, carries them;
  broker.state): a settlement that decides nothing is offered to the request's next round trip
  to Redis (`take_riders`) instead of being sent alone, from half a batch pending or a second
  after the last settlement. A busy key's count thus usually reaches Redis before a whole batch
  is pending, and a sign-in's limits cost no round trip of their own. A whole batch pending
  still settles alone: that fresh count is what refuses a hit once other processes have filled
  the window, so riding lets through no more hits than settling alone does. Hits whose ride
  failed are pending again.
- Memory is bounded: ended windows are forgotten every 10 s, and beyond 100,000 live keys (a
  flood of made-up client ids) new keys are counted in Redis only, one round trip per hit.

The trade-off: hits a process has not yet settled are invisible to the others. Once a window's
count has reached the limit, each process can let through fewer than `batch` more hits before
its next settlement tells it so (plus any its other threads take while that settlement is on its
way), so with N broker processes (workers × instances) a limit L lets through at most about
L + N × (batch − 1) requests in a window; with the default fraction that is L × (1 + N/20) at
most (e.g. 120/minute, batch 6, 8 processes: at most 160).
In practice far less, because counts are settled every second and hit by hit near the limit.
`batch_fraction: 0` makes every hit settle: exact, at one round trip per limit per request.

When Redis fails, the process goes on counting in memory (each process on its own) rather than
refusing or failing requests, retries Redis after 1, 2, 4 … up to 15 seconds, and settles the
hits it counted meanwhile once Redis answers again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

import redis
from limits.limits import TIME_TYPES
from limits.storage import Storage

log = logging.getLogger(__name__)

STORAGE_SCHEME = "broker+batched"
DEFAULT_BATCH_FRACTION = 0.05
SYNC_SECONDS = 1.0  # a key that has hits pending settles at least this often (on its next hit)
EXPIRY_MARGIN_SECONDS = 2  # a window's Redis key outlives the window (clocks differ a little)
MAX_KEYS = 100_000  # beyond this many live keys, hits go straight to Redis (memory stays bounded)
SWEEP_SECONDS = 10.0
MAX_RETRY_SECONDS = 15.0


def parse_limit_key(key: str) -> tuple[int, int] | None:
    """(amount, window seconds) from a key made by limits' RateLimitItem.key_for, which ends
    `/<amount>/<multiples>/<granularity name>`; None for any other shape."""
    parts = key.rsplit("/", 3)
    if len(parts) != 4 or parts[3] not in TIME_TYPES:
        return None
    try:
        amount, multiples = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    return amount, TIME_TYPES[parts[3]].seconds * multiples


@dataclass
class _Count:
    window: int  # window number: floor(time / window seconds)
    window_end: float
    limit: int
    batch: int
    last_sync: float  # monotonic
    shared: int = 0  # the count Redis returned at the last settlement
    pending: int = 0  # hits taken here and not yet sent
    inflight: int = 0  # hits being sent right now
    own: int = 0  # hits of this process Redis has taken (it cannot have counted fewer)
    settling: bool = False
    offered_at: float | None = None  # monotonic: when its settlement was offered to ride along

    @property
    def estimate(self) -> int:
        return self.shared + self.inflight + self.pending

    @property
    def ride_at(self) -> int:
        """Pending hits from which a settlement is offered to ride along: half a batch, so that
        the ride has room to come before a whole batch makes the key settle on its own."""
        return max(1, self.batch // 2)


@dataclass(frozen=True)
class _Settlement:
    key: str  # in Redis
    count: _Count
    amount: int


class Ride:
    """Settlements taken to ride along with another round trip to the same Redis (BrokerState's):
    `queue` adds their commands to its pipeline; then exactly one of `answered` (with their
    results) or `failed` hands them back."""

    def __init__(self, storage: BatchedRedisStorage, settlements: list[_Settlement]):
        self.storage = storage
        self.settlements = settlements

    def queue(self, pipe) -> None:
        for settlement in self.settlements:
            pipe.incrby(settlement.key, settlement.amount)
            pipe.expireat(settlement.key,
                          int(settlement.count.window_end) + EXPIRY_MARGIN_SECONDS)

    def answered(self, results: list) -> None:
        self.storage._rode(self.settlements, results[::2])

    def failed(self, exc: BaseException) -> None:
        self.storage._missed_ride(self.settlements, exc)


class BatchedRedisStorage(Storage):
    """`BatchedRedisStorage(client=redis_client, key_prefix="...", batch_fraction=0.05)`, for
    limits' fixed-window strategy (broker.ratelimit). `rides_along=True` when something calls
    `take_riders` before its round trips to `client` (BrokerState: broker.ratelimit wires it)."""

    STORAGE_SCHEME = [STORAGE_SCHEME]

    def __init__(self, uri: str | None = None, *, client: redis.Redis, key_prefix: str,
                 batch_fraction: float = DEFAULT_BATCH_FRACTION, rides_along: bool = False,
                 wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.client = client
        self.key_prefix = key_prefix
        self.batch_fraction = float(batch_fraction)
        self.rides_along = rides_along
        self._reset_local()

    def _reset_local(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._counts: dict[str, _Count] = {}
        self._offered: dict[str, _Count] = {}  # settlements waiting for a ride, by limit key
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        self._redis_retry_at = 0.0  # monotonic; Redis is not tried before this after a failure
        self._failures = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return redis.RedisError

    def batch_for(self, limit: int) -> int:
        return max(1, int(limit * self.batch_fraction))

    def redis_key(self, key: str, window: int) -> str:
        return f"{self.key_prefix}:{key}@{window}"

    # --- the Storage interface limits' fixed-window strategy uses ------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        if os.getpid() != self._pid:  # forked after use: the parent's pending hits are not ours
            self._reset_local()
        parsed = parse_limit_key(key)
        limit, expiry = parsed if parsed else (0, int(expiry))
        now, monotonic = time.time(), time.monotonic()
        window = int(now // expiry)
        with self._lock:
            if monotonic >= self._next_sweep:
                self._sweep(now, monotonic)
            count = self._counts.get(key)
            crowded = count is None and len(self._counts) >= MAX_KEYS
            if not crowded:
                if count is None or count.window != window:
                    count = _Count(window, (window + 1) * expiry, limit,
                                   self.batch_for(limit) if parsed else 1, last_sync=monotonic)
                    self._counts[key] = count
                count.pending += amount
                estimate = count.estimate
                if (count.settling or monotonic < self._redis_retry_at
                        or not self._settles_now(key, count, estimate, monotonic)):
                    return estimate
                self._offered.pop(key, None)
                count.offered_at = None
                count.settling, count.inflight, count.pending = True, count.pending, 0
                sending = count.inflight
        if crowded:
            return self._settle_alone(key, window, expiry, amount)
        try:
            shared = self._send(self.redis_key(key, window), sending, count.window_end)
        except redis.RedisError as exc:
            with self._lock:
                self._unsent(count, sending)
                self._redis_failed(exc, monotonic)
                return count.estimate
        with self._lock:
            self._settled(count, sending, shared)
            return count.estimate

    def take_riders(self) -> Ride | None:
        """The settlements offered to ride along, for the caller's next round trip to `client`
        (any request thread; see `rides_along`). None when there are none."""
        if not self._offered or os.getpid() != self._pid:  # a parent's offers are not ours
            return None
        with self._lock:
            if time.monotonic() < self._redis_retry_at:
                return None
            taken = []
            for key, count in self._offered.items():
                count.offered_at = None
                if self._counts.get(key) is count and not count.settling and count.pending:
                    count.settling, count.inflight, count.pending = True, count.pending, 0
                    taken.append(_Settlement(self.redis_key(key, count.window), count,
                                             count.inflight))
            self._offered.clear()
        return Ride(self, taken) if taken else None

    def get(self, key: str) -> int:
        parsed = parse_limit_key(key)
        with self._lock:
            count = self._counts.get(key)
            if count is not None and time.time() < count.window_end:
                return count.estimate
        if parsed is None or time.monotonic() < self._redis_retry_at:
            return 0
        try:
            return int(self.client.get(self.redis_key(key, int(time.time() // parsed[1]))) or 0)
        except redis.RedisError as exc:
            with self._lock:
                self._redis_failed(exc, time.monotonic())
            return 0

    def local_count(self, key: str) -> int | None:
        """This process's estimate of `key` in the current window (its own hits and the shared
        count at the last settlement), or None when it has none: no Redis round trip."""
        with self._lock:
            count = self._counts.get(key)
            if count is not None and time.time() < count.window_end:
                return count.estimate
        return None

    def get_expiry(self, key: str) -> float:
        with self._lock:
            count = self._counts.get(key)
        now = time.time()
        if count is not None and now < count.window_end:
            return count.window_end
        parsed = parse_limit_key(key)
        expiry = parsed[1] if parsed else 60
        return (int(now // expiry) + 1) * expiry

    def check(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def reset(self) -> int | None:
        with self._lock:
            self._counts.clear()
        deleted = 0
        for redis_key in self.client.scan_iter(f"{self.key_prefix}:*", count=1000):
            deleted += self.client.delete(redis_key)
        return deleted

    def clear(self, key: str) -> None:
        with self._lock:
            count = self._counts.pop(key, None)
        parsed = parse_limit_key(key)
        if count is not None:
            self.client.delete(self.redis_key(key, count.window))
        elif parsed is not None:
            self.client.delete(self.redis_key(key, int(time.time() // parsed[1])))

    # --- internals ------------------------------------------------------------------------------

    def _settles_now(self, key: str, count: _Count, estimate: int, monotonic: float) -> bool:
        """Called with the lock held: whether this hit settles the key's count, on its own and
        before it is decided. Otherwise it may offer the settlement to ride along."""
        if count.pending >= count.batch or count.limit - count.batch < estimate <= count.limit:
            return True
        stale = monotonic - count.last_sync >= SYNC_SECONDS
        if not self.rides_along:
            return stale
        if count.offered_at is not None:  # offered and not taken: a second is as long as it waits
            return monotonic - count.offered_at >= SYNC_SECONDS
        if stale or count.pending >= count.ride_at:
            count.offered_at = monotonic
            self._offered[key] = count
        return False

    def _settled(self, count: _Count, amount: int, shared: int) -> None:
        """Called with the lock held: Redis took `amount` hits and answered `shared`."""
        self._failures = 0
        count.settling, count.inflight, count.own = False, 0, count.own + amount
        # Never below what we knew: a Redis that restarted empty has lost the earlier hits.
        count.shared = max(count.shared, shared, count.own)
        count.last_sync = time.monotonic()

    def _unsent(self, count: _Count, amount: int) -> None:
        """Called with the lock held: `amount` hits did not reach Redis; pending again."""
        count.settling, count.pending, count.inflight = False, count.pending + amount, 0

    def _rode(self, settlements: list[_Settlement], answers: list) -> None:
        """Each settlement's INCRBY answer from the round trip it rode along with."""
        with self._lock:
            error = None
            for settlement, shared in zip(settlements, answers, strict=True):
                if isinstance(shared, Exception):
                    self._unsent(settlement.count, settlement.amount)
                    error = shared
                else:
                    self._settled(settlement.count, settlement.amount, int(shared))
            if error is not None:
                self._redis_failed(error, time.monotonic())

    def _missed_ride(self, settlements: list[_Settlement], exc: BaseException) -> None:
        """The round trip they rode along with failed (its caller counted the Redis error)."""
        with self._lock:
            for settlement in settlements:
                self._unsent(settlement.count, settlement.amount)
            if isinstance(exc, redis.RedisError):
                self._redis_failed(exc, time.monotonic(), counted=True)

    def _send(self, redis_key: str, amount: int, window_end: float) -> int:
        """One round trip: add `amount` and make sure the key expires after its window."""
        pipe = self.client.pipeline(transaction=False)
        pipe.incrby(redis_key, amount)
        pipe.expireat(redis_key, int(window_end) + EXPIRY_MARGIN_SECONDS)
        shared, _ = pipe.execute()
        return int(shared)

    def _settle_alone(self, key: str, window: int, expiry: int, amount: int) -> int:
        """Too many keys held here (a flood of made-up client ids): count this one in Redis only."""
        if time.monotonic() < self._redis_retry_at:
            return amount
        try:
            return self._send(self.redis_key(key, window), amount, (window + 1) * expiry)
        except redis.RedisError as exc:
            with self._lock:
                self._redis_failed(exc, time.monotonic())
            return amount

    def _redis_failed(self, exc: Exception, monotonic: float, counted: bool = False) -> None:
        """Called with the lock held: count in memory and retry Redis after a growing pause."""
        if not self._failures:
            log.warning("rate limits: Redis unreachable, counting in this process until it "
                        "answers again: %s", exc)
        self._failures += 1
        self._redis_retry_at = monotonic + min(MAX_RETRY_SECONDS, 2.0 ** (self._failures - 1))
        if counted:
            return
        try:
            from broker.observability import REDIS_ERRORS

            REDIS_ERRORS.inc()
        except Exception:  # noqa: BLE001 - metrics must never fail a request
            pass

    def _sweep(self, now: float, monotonic: float) -> None:
        """Called with the lock held: forget windows that have ended."""
        self._next_sweep = monotonic + SWEEP_SECONDS
        for key in [key for key, count in self._counts.items()
                    if count.window_end <= now and not count.settling]:
            del self._counts[key]
            self._offered.pop(key, None)
