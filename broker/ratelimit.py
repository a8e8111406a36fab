"""Rate limits on the endpoints anyone can hammer: /authorize, /token and the assertion consumer
service, per client and per IP, counted in Redis so that every broker process shares one count.

Why these three: /authorize and the ACS each cost a signed AuthnRequest or a signature check and
a decryption, and /token is where a stolen code or a guessed secret would be tried. Limits come
from `rate_limits` in the YAML file (broker.config.RateLimitConfig). A resident who trips one
meets the "too-many-requests" page; a council app gets an OAuth JSON error with `Retry-After`.

The client IP is the socket's peer address; behind a proxy it comes from X-Forwarded-For only
through werkzeug's ProxyFix with the configured number of trusted hops (`proxy.trusted_hops`),
never from a header a resident can simply send.

Per client at the ACS: the hub's POST names no client, and finding it means taking the flow, so
the ACS is limited per IP only; the per-client limit at /authorize already bounds how many flows
a client can start.

Counting costs (almost) no Redis round trip per request: each process counts in memory and
settles with Redis in batches of 1/20 of the limit (`rate_limits.batch_fraction`), so with N
broker processes a limit L may let through up to L + N × (batch − 1) requests in a window, while
small limits (batch 1) stay exact. Windows are aligned on the clock (a "per minute" window is a
calendar minute). The counting, its trade-off and its costs are in broker/ratelimit_storage.py.

When Redis is down the limiter falls back to counting in process memory (each process on its
own) rather than refusing or failing every request: the outage itself is answered by the
"service unavailable" page of the step that needs Redis.
"""

from __future__ import annotations

import base64
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, jsonify, request
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
    "signin.assertion_consumer_service": "acs",
    "signin.one_login_callback": "acs",  # One Login's answer: the ACS of the OIDC upstream
}
BROWSER_ENDPOINTS = ("signin.authorize", "signin.assertion_consumer_service",
                     "signin.one_login_callback")
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


def client_key() -> str:
    """The client a request claims to be: from /authorize's `client_id`, or at /token from Basic
    authentication or the form. Unauthenticated, so a per-client limit is generous: it bounds what
    one client's traffic may cost, while the per-IP limit stops one source."""
    client_id = request.values.get("client_id", "") if request.endpoint == "signin.authorize" else ""
    if request.endpoint == "oidc.token":
        client_id = _basic_username() or request.form.get("client_id", "")
    client_id = client_id[:CLIENT_ID_MAX_LENGTH]
    return f"client:{client_id or '(none)'}"


def _basic_username() -> str:
    header = request.headers.get("Authorization", "")
    if not header[:6].lower() == "basic ":
        return ""
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    from urllib.parse import unquote

    return unquote(decoded.partition(":")[0])


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


def install_rate_limits(app: Flask, config: BrokerConfig, embedded_store: bool
                        ) -> RateLimiter | None:
    """Wraps the limited views; call after their blueprints are registered. `embedded_store`: the
    broker runs on the in-process demo store, so the limiter counts in memory too.

    The limits library does the counting; flask-limiter's request hooks (which ran on every
    request, limited or not, and cost a fifth of a limited request's CPU) are not used."""
    if config.proxy_trusted_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.proxy_trusted_hops, x_proto=0,
                                x_host=0, x_port=0, x_prefix=0)
    limits = config.rate_limits
    if not limits.enabled:
        return None
    storage = MemoryStorage() if embedded_store else BatchedRedisStorage(
        client=_redis_client(app, config), key_prefix=f"{config.redis.key_prefix}ratelimit",
        batch_fraction=limits.batch_fraction)
    limiter = RateLimiter(storage)
    for endpoint, section in LIMITED_ENDPOINTS.items():
        rules = limits.rules(section)
        checks = [Rule(limit, client_key) for limit in _parsed(rules.per_client)]
        checks += [Rule(limit, _ip_key) for limit in _parsed(rules.per_ip)]
        if checks:
            app.view_functions[endpoint] = limiter.limited(app.view_functions[endpoint], checks,
                                                           endpoint)

    @app.errorhandler(TooManyRequests)
    def too_many_requests(exc: TooManyRequests):
        log.info("rate limit reached at %s: %s", request.endpoint, exc.limit)
        if request.endpoint in BROWSER_ENDPOINTS:
            from broker.web.pages import render_page

            body, status, headers = render_page("too-many-requests")
            return body, status, {**headers, "Retry-After": str(exc.retry_after)}
        response = jsonify(error="temporarily_unavailable",
                           error_description="too many requests; try again later")
        response.status_code = 429
        response.headers.update({"Retry-After": str(exc.retry_after),
                                 "Cache-Control": "no-store"})
        return response

    return limiter


def _parsed(limits: str | None) -> list[RateLimitItem]:
    return parse_many(limits) if limits else []


def _redis_client(app: Flask, config: BrokerConfig):
    """The broker's own Redis client (its timeouts, Sentinel, TLS, round-trip metric), or a new
    one for an app that has none."""
    state = getattr(app.extensions.get("broker"), "state", None)
    client = getattr(state, "redis", None)
    if client is None:
        from broker.state import connect

        client = connect(config.redis, allow_embedded=False)
    return client
