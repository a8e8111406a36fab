"""The logout token every OpenID upstream's back-channel logout checks (OpenID Connect Back-Channel
Logout 1.0 section 2.6): one reader for One Login and any OIDC4IDA provider, so both verify the
signature the same way (the provider's keys fetched again once when the token names a key they
do not hold: the first logout after a key rotation) and refuse with the same words."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_LOGOUT_TOKEN = 8192
LOGOUT_TOKEN_MAX_AGE_SECONDS = 300


class LogoutTokenClaims(JWTClaimsRegistry):
    """`iss` the provider's, `aud` the broker's client id, `iat` within the last five minutes,
    `exp` (if any) not past, the back-channel logout event, a `sub` and a `jti`, no `nonce`."""

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


REFUSALS = {
    "iss": "not from {provider}", "aud": "for another client",
    "iat": "iat is missing, too old or in the future", "exp": "expired",
    "events": "not a back-channel logout event", "nonce": "a logout token must not carry a nonce",
    "sub": "no sub", "jti": "no jti",
}


class LogoutTokenRejected(Exception):
    """Not a logout token from the provider for the broker; the message says why."""


def read_logout_token(token: Any, *, keys: KeySet, algorithms: list[str], issuer: str,
                      client_id: str, leeway: int, fresh_keys: Callable[[], KeySet | None],
                      provider_name: str = "the provider", now: float | None = None
                      ) -> dict[str, Any]:
    """The token's claims once its signature verifies with `keys` (or, when it does not, with
    `fresh_keys()`, the provider's documents fetched again, None when none can be had now) and
    its claims pass section 2.6; LogoutTokenRejected otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_LOGOUT_TOKEN:
        raise LogoutTokenRejected("no logout_token")
    try:
        try:
            claims = jwt.decode(token, keys, algorithms=algorithms).claims
        except (JoseError, ValueError) as first:
            fresh = fresh_keys()
            if fresh is None:
                raise first
            claims = jwt.decode(token, fresh, algorithms=algorithms).claims
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenRejected(f"signature does not verify: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise LogoutTokenRejected("the payload is not a JSON object")
    checks = LogoutTokenClaims(issuer=issuer, client_id=client_id,
                               now=int(time.time() if now is None else now), leeway=leeway)
    try:
        checks.validate(claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", "exp" if isinstance(exc, ExpiredTokenError) else "")
        refusal = REFUSALS.get(claim, exc.description or exc.error)
        raise LogoutTokenRejected(refusal.replace("{provider}", provider_name)) from None
    return claims
