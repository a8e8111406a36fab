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
from joserfc.errors import ExpiredTokenError, JoseError

from broker.one_login.provider import PublishedTrust
from broker.upstreams.logout_token import (  # noqa: F401 - BACKCHANNEL_EVENT: One Login's name too
    BACKCHANNEL_EVENT,
    LOGOUT_TOKEN_MAX_AGE_SECONDS,
    MAX_LOGOUT_TOKEN,
    LogoutTokenClaims,
)

REFUSALS = {
    "iss": "not from One Login", "aud": "for another client",
    "iat": "iat is missing, too old or in the future", "exp": "expired",
    "events": "not a back-channel logout event", "nonce": "a logout token must not carry a nonce",
    "sub": "no sub", "jti": "no jti",
}


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
    checks = LogoutTokenClaims(issuer=trust.provider.issuer, client_id=client_id,
                               now=int(time.time() if now is None else now), leeway=leeway)
    try:
        checks.validate(claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", "exp" if isinstance(exc, ExpiredTokenError) else "")
        raise LogoutTokenRejected(REFUSALS.get(claim, exc.description or exc.error)) from None
    return claims
