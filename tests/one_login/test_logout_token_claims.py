"""One Login's logout token read by joserfc's claims registry (Back-Channel Logout 1.0 section
2.6): each refusal performed on an otherwise valid, really signed token."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from broker.one_login.provider import OneLoginProvider, ProviderMetadata, PublishedTrust
from broker.upstreams.logout_token import (
    BACKCHANNEL_EVENT,
    LogoutTokenRejected,
    read_published_logout_token,
)

ISSUER = "https://oidc.one-login.test/"
KEY = ECKey.generate_key("P-256", auto_kid=True)
TRUST = PublishedTrust(
    ProviderMetadata(ISSUER, f"{ISSUER}authorize", f"{ISSUER}token", f"{ISSUER}userinfo",
                     f"{ISSUER}jwks", None, ("ES256",)),
    KeySet([ECKey.import_key(KEY.as_dict(private=False))]), None, time.time())


class OneLoginInHand:
    """One Login's documents as already fetched: nothing newer to fetch for an unknown key."""

    called = OneLoginProvider.called

    def refetch_for_unknown_key(self, seen):
        return None


def read_logout_token(value: str, trust: PublishedTrust, client_id: str, leeway: int):
    return read_published_logout_token(value, OneLoginInHand(), trust, client_id=client_id,
                                       leeway=leeway)


def token(**changes) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "broker", "iat": now, "exp": now + 120, "jti": "j-1",
              "sub": "urn:fdc:resident", "events": {BACKCHANNEL_EVENT: {}}, **changes}
    return jwt.encode({"alg": "ES256", "kid": KEY.kid},
                      {k: v for k, v in claims.items() if v is not None}, KEY)


def test_a_valid_logout_token_is_read():
    assert read_logout_token(token(), TRUST, "broker", 30)["sub"] == "urn:fdc:resident"


# Times are relative to when the test runs, not to when it was collected.
@pytest.mark.parametrize("changes, why", [
    (lambda now: {"iss": "https://evil.example/"}, "not from One Login"),
    (lambda now: {"aud": "another-client"}, "for another client"),
    (lambda now: {"iat": now - 3600}, "too old"),
    (lambda now: {"iat": now + 3600}, "in the future"),
    (lambda now: {"iat": None}, "iat"),
    (lambda now: {"exp": now - 120}, "expired"),
    (lambda now: {"events": {"http://example.com/other-event": {}}}, "not a back-channel logout event"),
    (lambda now: {"events": None}, "back-channel logout event"),
    (lambda now: {"nonce": "n"}, "nonce"),
    (lambda now: {"sub": ""}, "no sub"),
    (lambda now: {"jti": None}, "jti"),
])
def test_a_logout_token_failing_a_check_is_refused(changes, why):
    with pytest.raises(LogoutTokenRejected, match=why):
        read_logout_token(token(**changes(int(time.time()))), TRUST, "broker", 30)
