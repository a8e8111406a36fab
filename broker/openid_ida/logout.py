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


def upstream_subject(issuer: str, sub: str) -> str:
    return hashlib.sha256(f"openid_ida\n{issuer}\n{sub}".encode()).hexdigest()
