"""The ID token claims every OpenID upstream checks (OpenID Connect Core 1.0 section 3.1.3.7),
as joserfc's claims registry: one definition for One Login and any OIDC4IDA provider.

`iss` is the provider's, `aud` lists the broker's client id (with several audiences `azp` must be
present and be the broker: Core 3.1.3.7 items 3-5), `sub` is a non-empty string, `nonce` is the
flow's, `exp` is in the future and `iat` and `auth_time` not, within the configured leeway.
The signature is the caller's to verify first (its keys and algorithms are the provider's).
"""

from __future__ import annotations

from typing import Any

from joserfc.errors import InvalidClaimError
from joserfc.jwt import JWTClaimsRegistry


class IdTokenClaims(JWTClaimsRegistry):
    def __init__(self, *, issuer: str, client_id: str, nonce: str, now: int, leeway: int):
        super().__init__(now=now, leeway=leeway,
                         iss={"essential": True, "value": issuer},
                         aud={"essential": True, "value": client_id},
                         sub={"essential": True},
                         exp={"essential": True},
                         iat={"essential": True},
                         nonce={"essential": True, "value": nonce})
        self.client_id = client_id

    def validate_azp(self, value: object) -> None:
        if value != self.client_id:
            raise InvalidClaimError("azp")

    def validate_auth_time(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value > self.now + self.leeway:
            raise InvalidClaimError("auth_time")

    def validate(self, claims: dict[str, Any]) -> None:
        super().validate(claims)
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and "azp" not in claims:
            raise InvalidClaimError("azp")
