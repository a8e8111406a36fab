"""Back-channel logout from One Login (OpenID Connect Back-Channel Logout 1.0).

When a resident signs out of GOV.UK One Login, One Login POSTs a `logout_token` to the broker's
registered back-channel logout URI. The broker verifies it as it does any OpenID upstream's
(broker.upstreams.logout_token: signature against One Login's JWKS, `iss`, `aud`, `iat`, the
back-channel event, no `nonce`, a `jti` seen once) and ends every broker session that One Login
subject opened, which in turn notifies each council app that shared them. That part is the
journey's (broker.journey): sessions are found through an index written when a One Login
sign-in opens or renews a session, under `upstream_subject` (a hash of One Login's issuer and
`sub`, never the `sub` itself).
"""

from __future__ import annotations

import hashlib


def upstream_subject(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()
