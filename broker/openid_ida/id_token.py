"""The ID token checks of OpenID Connect Core 1.0 section 3.1.3.7, with joserfc's claims registry.

The signature is verified against the provider's JWKS with the algorithms its discovery document
names (never `none`, never HMAC with a public key); on failure the JWKS is fetched again once
(the provider may have rotated its keys). Then `iss` is the provider's, `aud` lists the broker's
client id (with several audiences, `azp` must be present and the broker), `nonce` is the flow's,
`exp` is in the future and `iat` not, within the configured skew, and `sub` is a non-empty string.
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidClaimError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from broker.openid_ida.provider import OpenIdProvider, PublishedTrust

MAX_ID_TOKEN = 16 * 1024


class IdTokenRejected(Exception):
    """The ID token is not one the broker may believe for this flow; the message says why."""


class IdTokenClaims(JWTClaimsRegistry):
    """The claims every ID token for this flow must carry, and their values."""

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


def verified_id_token(value: Any, provider: OpenIdProvider, trust: PublishedTrust,
                      checks: IdTokenClaims) -> dict[str, Any]:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_TOKEN:
        raise IdTokenRejected("the token response has no ID token")
    algorithms = list(trust.provider.id_token_signing_algs)
    try:
        try:
            token = jwt.decode(value, trust.id_token_keys, algorithms=algorithms)
        except (JoseError, ValueError) as first:
            fresh = provider.refetch_for_unknown_key()
            if fresh is None:
                raise first
            token = jwt.decode(value, fresh.id_token_keys, algorithms=algorithms)
    except (JoseError, ValueError, TypeError) as exc:
        raise IdTokenRejected(f"the ID token's signature does not verify: "
                              f"{type(exc).__name__}") from None
    if not isinstance(token.claims, dict):
        raise IdTokenRejected("the ID token's payload is not a JSON object")
    try:
        checks.validate(token.claims)
    except JoseError as exc:
        raise IdTokenRejected(f"the ID token is refused: {exc.description or exc.error}") from None
    return token.claims
