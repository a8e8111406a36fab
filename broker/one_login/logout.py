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
from typing import Any

from broker.one_login.provider import OneLoginProvider, PublishedTrust
from broker.upstreams import logout_token
from broker.upstreams.logout_token import (  # noqa: F401 - One Login's names too
    BACKCHANNEL_EVENT,
    LOGOUT_TOKEN_MAX_AGE_SECONDS,
    LogoutTokenRejected,
)


def upstream_subject(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()


def read_logout_token(token: Any, trust: PublishedTrust, client_id: str, leeway: int,
                      now: float | None = None, provider: OneLoginProvider | None = None
                      ) -> dict[str, Any]:
    """`provider`, when given, fetches One Login's documents again for a key `trust` lacks."""
    def fresh_keys():
        fresh = provider.refetch_for_unknown_key(trust) if provider is not None else None
        return fresh.id_token_keys if fresh is not None else None

    return logout_token.read_logout_token(
        token, keys=trust.id_token_keys, algorithms=list(trust.provider.id_token_signing_algs),
        issuer=trust.provider.issuer, client_id=client_id, leeway=leeway,
        fresh_keys=fresh_keys, provider_name="One Login", now=now)
