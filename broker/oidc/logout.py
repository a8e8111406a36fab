"""Logout: RP-Initiated Logout 1.0 and Back-Channel Logout 1.0.

A logout request ends the browser's session only with proof it comes from that session (logout
CSRF otherwise: any page could sign a resident out, with any valid ID token, even its own): an
`id_token_hint` whose `sid` is this browser's session, or the confirmation form's CSRF token,
bound to the session. Anything else gets the confirmation page (RP-Initiated Logout 1.0, 2).

Ending the broker session notifies every council app that shared it, each with a signed
`logout_token`, a short timeout, and no effect on the resident's page when an app is down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import BaseClaimsRegistry

from broker.oidc.sessions import BrokerSession

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_ID_TOKEN_HINT = 8192


def read_id_token_hint(broker, id_token_hint: str) -> dict | None:
    """Our own ID token, verified by signature; expiry is ignored as the spec allows."""
    if not id_token_hint or len(id_token_hint) > MAX_ID_TOKEN_HINT:
        return None
    try:
        token = jwt.decode(id_token_hint, broker.signing_keys.public_keys(),
                           algorithms=["ES256", "RS256"])
    except (JoseError, ValueError):
        return None
    try:  # our own `iss`; the base registry checks no time, as RP-Initiated Logout 1.0 allows
        BaseClaimsRegistry(iss={"essential": True, "value": broker.config.issuer}).validate(
            token.claims)
    except JoseError:
        return None
    return token.claims


def logout_csrf_token(broker, session_id: str | None) -> str:
    """An HMAC of the session id under the broker's secret key: valid for that session only."""
    message = f"logout-confirmation:{session_id or ''}".encode()
    return hmac.new(broker.config.secret_key.encode(), message, hashlib.sha256).hexdigest()


def logout_confirmed(broker, session_id: str | None, hint: dict | None, params: dict[str, str],
                     method: str) -> bool:
    """True when the request may end the session without asking the resident."""
    session = broker.sessions.load(session_id) if session_id else None
    if session is None:
        return True  # nothing to end: no harm in following the request
    if hint is not None and hint.get("sid") and hmac.compare_digest(
            str(hint["sid"]), session.sid):
        return True
    token = params.get("csrf_token", "")
    return method == "POST" and bool(token) and hmac.compare_digest(
        token, logout_csrf_token(broker, session_id))


def logout_token(broker, client, sub: str, sid: str) -> str:
    alg = client.id_token_signed_response_alg
    key = broker.signing_keys.for_alg(alg)
    now = int(time.time())
    claims = {"iss": broker.config.issuer, "aud": client.get_client_id(), "iat": now,
              "exp": now + 120, "jti": secrets.token_urlsafe(16), "sub": sub, "sid": sid,
              "events": {BACKCHANNEL_EVENT: {}}}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "logout+jwt"}, claims, key,
                      algorithms=[alg])


def notify_council_apps(broker, session: BrokerSession) -> dict[str, bool]:
    """POSTs a logout_token to each app of the session that registered a back-channel URI."""
    targets = []
    for client_id, sub in session.clients.items():
        client = broker.clients.get(client_id)
        if client is not None and client.config.backchannel_logout_uri:
            targets.append((client, sub))
    if not targets:
        return {}
    timeout = broker.config.oidc.backchannel_logout_timeout_seconds

    def send(target) -> tuple[str, bool]:
        client, sub = target
        try:
            response = requests.post(client.config.backchannel_logout_uri, timeout=timeout,
                                     data={"logout_token": logout_token(broker, client, sub,
                                                                        session.sid)})
            ok = response.status_code in (200, 204)
        except requests.RequestException as exc:
            log.warning("back-channel logout to %s failed: %s", client.client_id,
                        type(exc).__name__)
            ok = False
        if not ok:
            log.warning("back-channel logout to %s was not accepted", client.client_id)
        return client.client_id, ok

    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        return dict(pool.map(send, targets))
