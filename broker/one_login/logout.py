"""Back-channel logout from One Login (OpenID Connect Back-Channel Logout 1.0).

When a resident signs out of GOV.UK One Login, One Login POSTs a `logout_token` to the broker's
registered back-channel logout URI. The broker verifies it (section 2.6: signature against One
Login's JWKS, `iss`, `aud`, `iat`, the back-channel event, no `nonce`, a `jti` seen once) and
ends every broker session that One Login subject opened, which in turn notifies each council
app that shared them. That part is the journey's (broker.journey): sessions are found through an
index written when a One Login sign-in opens or renews a session, under `upstream_subject` (a
hash of One Login's issuer and `sub`, never the `sub` itself).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from broker.one_login.provider import PublishedTrust

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_LOGOUT_TOKEN = 8192
LOGOUT_TOKEN_MAX_AGE_SECONDS = 300


class LogoutTokenRejected(Exception):
    """Not a logout token from One Login for the broker; the message says why."""


def upstream_subject(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()


def read_logout_token(token: Any, trust: PublishedTrust, client_id: str, leeway: int,
                      now: float | None = None) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > MAX_LOGOUT_TOKEN:
        raise LogoutTokenRejected("no logout_token")
    try:
        claims = jwt.decode(token, trust.id_token_keys,
                            algorithms=list(trust.provider.id_token_signing_algs)).claims
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenRejected(f"signature does not verify: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise LogoutTokenRejected("the payload is not a JSON object")
    now = int(time.time() if now is None else now)
    audience = claims.get("aud")
    if claims.get("iss") != trust.provider.issuer:
        raise LogoutTokenRejected("not from One Login")
    if audience != client_id and not (isinstance(audience, list) and client_id in audience):
        raise LogoutTokenRejected("for another client")
    if not isinstance(claims.get("iat"), int) or not (
            now - LOGOUT_TOKEN_MAX_AGE_SECONDS - leeway <= claims["iat"] <= now + leeway):
        raise LogoutTokenRejected("iat is missing, too old or in the future")
    if isinstance(claims.get("exp"), int) and claims["exp"] <= now - leeway:
        raise LogoutTokenRejected("expired")
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise LogoutTokenRejected("not a back-channel logout event")
    if "nonce" in claims:
        raise LogoutTokenRejected("a logout token must not carry a nonce")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise LogoutTokenRejected("no sub")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise LogoutTokenRejected("no jti")
    return claims
