"""Rate limits on the endpoints anyone can hammer: /authorize, /token and the assertion consumer
service, per client and per IP, counted in Redis so that every broker process shares one count.

Why these three: /authorize and the ACS each cost a signed AuthnRequest or a signature check and
a decryption, and /token is where a stolen code or a guessed secret would be tried. Limits come
from `rate_limits` in the YAML file (broker.config.RateLimitConfig). A resident who trips one
meets the "too-many-requests" page; a council app gets an OAuth JSON error with `Retry-After`.

The client IP is the socket's peer address; behind a proxy it comes from X-Forwarded-For only
through werkzeug's ProxyFix with the configured number of trusted hops (`proxy.trusted_hops`),
never from a header a resident can simply send.

Per client, only once the client is known to be itself: at /token and /par after it has
authenticated, at /authorize after its `client_id` and `redirect_uri` were validated
(`count_client`). Counting unauthenticated requests would let anyone spend a council app's
budget by sending wrong secrets or junk under its `client_id`, and the real app would get 429.
Failed client authentication has its own, tighter per-IP limit (`client_authentication_failures`):
once an address reaches it, /token and /par refuse it before trying its credentials, so a correct
guess cannot slip in after many wrong ones.

Per client at the ACS: the hub's POST names no client, and finding it means taking the flow, so
the ACS is limited per IP only; the per-client limit at /authorize already bounds how many flows
a client can start.

Counting costs (almost) no Redis round trip per request: each process counts in memory and
settles with Redis in batches of 1/20 of the limit (`rate_limits.batch_fraction`), so with N
broker processes a limit L may let through up to L + N × (batch − 1) requests in a window, while
small limits (batch 1) stay exact. Settlements that decide nothing yet ride along with the
request's next round trip to Redis (broker.state), so a sign-in's limits cost none of their own.
Windows are aligned on the clock (a "per minute" window is a calendar minute). The counting,
its trade-off and its costs are in broker/ratelimit_storage.py.

When Redis is down the limiter falls back to counting in process memory (each process on its
own) rather than refusing or failing every request: the outage itself is answered by the
"service unavailable" page of the step that needs Redis.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, current_app, jsonify, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from broker.config import BrokerConfig
from broker.ratelimit_storage import BatchedRedisStorage

log = logging.getLogger(__name__)

# The endpoints limited, and the YAML section that configures each.
LIMITED_ENDPOINTS = {
    "signin.authorize": "authorize",
    "oidc.token": "token",
    "oidc.pushed_authorization_request": "par",
    "hub.assertion_consumer_service": "acs",
    "one_login.callback": "acs",  # One Login's answer: the ACS of the OIDC upstream
}
FAILED_CLIENT_AUTHENTICATION = "client_authentication_failures"
BROWSER_ENDPOINTS = ("signin.authorize", "hub.assertion_consumer_service",
                     "one_login.callback")
CLIENT_ID_MAX_LENGTH = 128
NAMESPACE = "LIMITER"  # the first part of every limit's key (limits' `key_for`)


class TooManyRequests(Exception):
    """A limit was reached; `reset_at` is when its window ends (epoch seconds)."""

    def __init__(self, limit: RateLimitItem, reset_at: float):
        super().__init__(str(limit))
        self.limit = limit
        self.reset_at = reset_at

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.reset_at - time.time()))


def client_ip() -> str:
    """The peer address (rewritten by ProxyFix only when proxy hops are trusted)."""
    return request.remote_addr or "unknown"


def _ip_key() -> str:
    return f"ip:{client_ip()}"


@dataclass(frozen=True)
class Rule:
    limit: RateLimitItem
    key: Callable[[], str]


class RateLimiter:
    """Fixed windows counted by `limits` in the given storage; when that storage fails, counted
    in this process's memory instead, so an outage never refuses or fails a request."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.counter = FixedWindowRateLimiter(storage)
        self.fallback = FixedWindowRateLimiter(MemoryStorage())
        self.per_client: dict[str, list[RateLimitItem]] = {}
        self.failed_authentication: list[RateLimitItem] = []

    def exhausted(self, rule: Rule, scope: str) -> TooManyRequests | None:
        """The refusal `rule` would give now, without counting this request. Read from this
        process's own count where the storage keeps one (no Redis round trip on the sign-in
        path): an address that failed here is known here, its count including the shared one
        as of the last settlement; one that never failed here has nothing to refuse yet."""
        key = rule.limit.key_for(rule.key(), scope)
        local = getattr(self.storage, "local_count", None)
        try:
            count = local(key) if local else self.storage.get(key)
        except Exception:  # the storage's own errors: the in-memory count answers
            count = self.fallback.storage.get(key)
        if count is None or count < rule.limit.amount:
            return None
        try:
            reset_at = self.storage.get_expiry(key)
        except Exception:
            reset_at = time.time() + rule.limit.get_expiry()
        return TooManyRequests(rule.limit, reset_at)

    def hit(self, rule: Rule, scope: str) -> None:
        """Counts one request against `rule`; raises TooManyRequests past the limit."""
        identifiers = (rule.key(), scope)
        counter = self.counter
        try:
            allowed = counter.hit(rule.limit, *identifiers)
        except Exception as exc:  # the storage's own errors: count here rather than fail
            log.warning("rate limit store failed, counting in memory: %s", type(exc).__name__)
            counter = self.fallback
            allowed = counter.hit(rule.limit, *identifiers)
        if not allowed:
            try:
                reset_at = counter.get_window_stats(rule.limit, *identifiers).reset_time
            except Exception:
                reset_at = time.time() + rule.limit.get_expiry()
            raise TooManyRequests(rule.limit, reset_at)

    def limited(self, view: Callable, rules: list[Rule], scope: str) -> Callable:
        @wraps(view)
        def limited_view(*args, **kwargs):
            for rule in rules:
                self.hit(rule, scope)
            return view(*args, **kwargs)

        return limited_view


def install_rate_limits(app: Flask, config: BrokerConfig, embedded_store: bool,
                        resident_page: Callable[[str], tuple]) -> RateLimiter | None:
    """Wraps the limited views; call after their blueprints are registered. `embedded_store`: the
    broker runs on the in-process demo store, so the limiter counts in memory too.
    `resident_page` renders a catalogue page by name (`broker.web.pages.render_page`, passed in
    so that this module stays below the web layer).

    The limits library does the counting; flask-limiter's request hooks (which ran on every
    request, limited or not, and cost a fifth of a limited request's CPU) are not used."""
    if config.proxy_trusted_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.proxy_trusted_hops, x_proto=0,
                                x_host=0, x_port=0, x_prefix=0)
    limits = config.rate_limits
    if not limits.enabled:
        return None
    storage = MemoryStorage() if embedded_store else _batched_storage(app, config)
    limiter = RateLimiter(storage)
    for endpoint, section in LIMITED_ENDPOINTS.items():
        rules = limits.rules(section)
        limiter.per_client[section] = _parsed(rules.per_client)
        checks = [Rule(limit, _ip_key) for limit in _parsed(rules.per_ip)]
        if checks and endpoint in app.view_functions:  # an upstream's, when it is configured
            app.view_functions[endpoint] = limiter.limited(app.view_functions[endpoint], checks,
                                                           endpoint)
    limiter.failed_authentication = _parsed(limits.rules(FAILED_CLIENT_AUTHENTICATION).per_ip)
    app.extensions["rate_limiter"] = limiter

    @app.errorhandler(TooManyRequests)
    def too_many_requests(exc: TooManyRequests):
        log.info("rate limit reached at %s: %s", request.endpoint, exc.limit)
        if request.endpoint in BROWSER_ENDPOINTS:
            body, status, headers = resident_page("too-many-requests")
            return body, status, {**headers, "Retry-After": str(exc.retry_after)}
        response = jsonify(error="temporarily_unavailable",
                           error_description="too many requests; try again later")
        response.status_code = 429
        response.headers.update({"Retry-After": str(exc.retry_after),
                                 "Cache-Control": "no-store"})
        return response

    return limiter


def _limiter() -> RateLimiter | None:
    return current_app.extensions.get("rate_limiter")


def count_client(section: str, client_id: str) -> None:
    """Counts a request against its client's limits; call once the client is known to be itself
    (authenticated, or `client_id` and `redirect_uri` validated). Raises TooManyRequests."""
    limiter = _limiter()
    if limiter is None:
        return
    key = f"client:{client_id[:CLIENT_ID_MAX_LENGTH]}"
    for limit in limiter.per_client.get(section, ()):
        limiter.hit(Rule(limit, lambda: key), section)


def refuse_if_failing_client_authentication() -> None:
    """Before trying a client's credentials: an address past its failure limit is refused."""
    limiter = _limiter()
    if limiter is None:
        return
    for limit in limiter.failed_authentication:
        refusal = limiter.exhausted(Rule(limit, _ip_key), FAILED_CLIENT_AUTHENTICATION)
        if refusal is not None:
            raise refusal


def count_failed_client_authentication() -> None:
    limiter = _limiter()
    if limiter is None:
        return
    for limit in limiter.failed_authentication:
        limiter.hit(Rule(limit, _ip_key), FAILED_CLIENT_AUTHENTICATION)


def _parsed(limits: str | None) -> list[RateLimitItem]:
    return parse_many(limits) if limits else []


def _batched_storage(app: Flask, config: BrokerConfig) -> BatchedRedisStorage:
    """Counts on the broker's own Redis client (its timeouts, Sentinel, TLS, round-trip metric),
    its settlements riding along with the broker state's round trips; on a new client, settling
    on its own, for an app that has none."""
    state = getattr(app.extensions.get("broker"), "state", None)
    client = getattr(state, "redis", None)
    rides_along = client is not None
    if client is None:
        from broker.state import connect

        client = connect(config.redis, allow_embedded=False)
    storage = BatchedRedisStorage(client=client, key_prefix=f"{config.redis.key_prefix}ratelimit",
                                  batch_fraction=config.rate_limits.batch_fraction,
                                  rides_along=rides_along)
    if rides_along:
        state.carry_riders(storage.take_riders)
    return storage
