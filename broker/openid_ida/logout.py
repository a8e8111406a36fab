"""Back-channel logout from the OpenID provider (OpenID Connect Back-Channel Logout 1.0).

When the resident signs out at the provider, it may POST a `logout_token` to the broker's
`/openid-ida/backchannel-logout`. The token is believed when its signature verifies against the
provider's JWKS (fetched again once for an unknown key) and its claims pass section 2.6
(broker.upstreams.logout_token); its `jti` is then refused a second time, and the journey ends
every broker session the resident's `sub` opened at this provider, filed under a hash of the
issuer and `sub` (never the `sub` itself).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from broker.openid_ida.provider import OpenIdProvider, PublishedTrust
from broker.upstreams.logout_token import MAX_LOGOUT_TOKEN, LogoutTokenClaims


class LogoutTokenRejected(Exception):
    """Not a logout token from the provider for the broker; the message says why."""


def upstream_subject(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"openid_ida\n{issuer}\n{sub}".encode()).hexdigest()


def read_logout_token(token: Any, provider: OpenIdProvider, trust: PublishedTrust,
                      client_id: str, leeway: int, now: float | None = None) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > MAX_LOGOUT_TOKEN:
        raise LogoutTokenRejected("no logout_token")
    algorithms = list(trust.provider.id_token_signing_algs)
    try:
        try:
            claims = jwt.decode(token, trust.id_token_keys, algorithms=algorithms).claims
        except (JoseError, ValueError) as first:
            fresh = provider.refetch_for_unknown_key()
            if fresh is None:
                raise first
            claims = jwt.decode(token, fresh.id_token_keys, algorithms=algorithms).claims
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenRejected(f"signature does not verify: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise LogoutTokenRejected("the payload is not a JSON object")
    checks = LogoutTokenClaims(issuer=trust.provider.issuer, client_id=client_id,
                               now=int(time.time() if now is None else now), leeway=leeway)
    try:
        checks.validate(claims)
    except JoseError as exc:
        raise LogoutTokenRejected(exc.description or exc.error) from None
    return claims
