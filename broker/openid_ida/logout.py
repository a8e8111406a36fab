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
from typing import Any

from broker.openid_ida.provider import OpenIdProvider, PublishedTrust
from broker.upstreams import logout_token
from broker.upstreams.logout_token import LogoutTokenRejected  # noqa: F401 - the plug-in's name too


def upstream_subject(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"openid_ida\n{issuer}\n{sub}".encode()).hexdigest()


def read_logout_token(token: Any, provider: OpenIdProvider, trust: PublishedTrust,
                      client_id: str, leeway: int, now: float | None = None) -> dict[str, Any]:
    def fresh_keys():
        fresh = provider.refetch_for_unknown_key(trust)
        return fresh.id_token_keys if fresh is not None else None

    return logout_token.read_logout_token(
        token, keys=trust.id_token_keys, algorithms=list(trust.provider.id_token_signing_algs),
        issuer=trust.provider.issuer, client_id=client_id, leeway=leeway,
        fresh_keys=fresh_keys, now=now)
