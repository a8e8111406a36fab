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

from flask import Flask, jsonify, request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.middleware.proxy_fix import ProxyFix

from broker import ratelimit_storage
from broker.config import BrokerConfig

log = logging.getLogger(__name__)

# The endpoints limited, and the YAML section that configures each.
LIMITED_ENDPOINTS = {
    "signin.authorize": "authorize",
    "oidc.token": "token",
    "signin.assertion_consumer_service": "acs",
}
BROWSER_ENDPOINTS = ("signin.authorize", "signin.assertion_consumer_service")
CLIENT_ID_MAX_LENGTH = 128


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


def install_rate_limits(app: Flask, config: BrokerConfig, embedded_store: bool) -> Limiter | None:
    """Wraps the limited views; call after their blueprints are registered. `embedded_store`: the
    broker runs on the in-process demo store, so the limiter counts in memory too."""
    if config.proxy_trusted_hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.proxy_trusted_hops, x_proto=0,
                                x_host=0, x_port=0, x_prefix=0)
    limits = config.rate_limits
    if not limits.enabled:
        return None
    limiter = Limiter(
        key_func=_ip_key, app=app,
        storage_uri="memory://" if embedded_store else f"{ratelimit_storage.STORAGE_SCHEME}://",
        storage_options={} if embedded_store else {
            "client": _redis_client(app, config),
            "key_prefix": f"{config.redis.key_prefix}ratelimit",
            "batch_fraction": limits.batch_fraction},
        strategy="fixed-window", swallow_errors=True, in_memory_fallback_enabled=True,
        headers_enabled=False,
    )
    for endpoint, section in LIMITED_ENDPOINTS.items():
        view = app.view_functions[endpoint]
        rules = limits.rules(section)
        if rules.per_client:
            view = limiter.limit(rules.per_client, key_func=client_key)(view)
        if rules.per_ip:
            view = limiter.limit(rules.per_ip, key_func=_ip_key)(view)
        app.view_functions[endpoint] = view

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded):
        retry_after = _retry_after(limiter)
        log.info("rate limit reached at %s: %s", request.endpoint, exc.description)
        if request.endpoint in BROWSER_ENDPOINTS:
            from broker.web.pages import render_page

            body, status, headers = render_page("too-many-requests")
            return body, status, {**headers, "Retry-After": str(retry_after)}
        response = jsonify(error="temporarily_unavailable",
                           error_description="too many requests; try again later")
        response.status_code = 429
        response.headers.update({"Retry-After": str(retry_after), "Cache-Control": "no-store"})
        return response

    return limiter


def _redis_client(app: Flask, config: BrokerConfig):
    """The broker's own Redis client (its timeouts, Sentinel, TLS, round-trip metric), or a new
    one for an app that has none."""
    state = getattr(app.extensions.get("broker"), "state", None)
    client = getattr(state, "redis", None)
    if client is None:
        from broker.state import connect

        client = connect(config.redis, allow_embedded=False)
    return client


def _retry_after(limiter: Limiter) -> int:
    """Seconds until the window that was hit resets (at least 1)."""
    import time

    window = limiter.current_limit
    if window is None:
        return 60
    return max(1, math.ceil(window.reset_at - time.time()))
