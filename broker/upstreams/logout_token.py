"""The logout token every OpenID upstream's back-channel logout checks (OpenID Connect Back-Channel
Logout 1.0 section 2.6), as joserfc's claims registry: one definition for One Login and any
OIDC4IDA provider. The signature is the caller's to verify first, with the provider's keys."""

from __future__ import annotations

from joserfc.errors import InvalidClaimError
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
