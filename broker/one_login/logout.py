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
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from broker.one_login.provider import PublishedTrust

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_LOGOUT_TOKEN = 8192
LOGOUT_TOKEN_MAX_AGE_SECONDS = 300


REFUSALS = {
    "iss": "not from One Login", "aud": "for another client",
    "iat": "iat is missing, too old or in the future", "exp": "expired",
    "events": "not a back-channel logout event", "nonce": "a logout token must not carry a nonce",
    "sub": "no sub", "jti": "no jti",
}


class LogoutTokenClaims(JWTClaimsRegistry):
    """Back-Channel Logout 1.0 section 2.6 as joserfc's claims registry: `iss` One Login's, `aud`
    the broker's client id, `iat` within the last five minutes, `exp` (if any) not past, the
    back-channel logout event, a `sub` and a `jti`, and no `nonce`."""

    def __init__(self, *, issuer: str, client_id: str, now: int, leeway: int):
        super().__init__(now=now, leeway=leeway,
                         iss={"essential": True, "value": issuer},
                         aud={"essential": True, "value": client_id},
                         iat={"essential": True}, sub={"essential": True},
                         jti={"essential": True}, events={"essential": True})

    def validate_iat(self, value: object) -> None:
        super().validate_iat(value)
        if value < self.now - LOGOUT_TOKEN_MAX_AGE_SECONDS - self.leeway:
            raise InvalidClaimError("iat")

    def validate_events(self, value: object) -> None:
        if not isinstance(value, dict) or BACKCHANNEL_EVENT not in value:
            raise InvalidClaimError("events")

    def validate_nonce(self, value: object) -> None:
        raise InvalidClaimError("nonce")


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
