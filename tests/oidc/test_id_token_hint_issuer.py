"""The logout endpoint's id_token_hint is believed only when it is the broker's own: signed by its
keys (verified) and with its issuer as `iss` (joserfc's claims registry)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from broker.oidc.logout import read_id_token_hint

KEY = ECKey.generate_key("P-256", auto_kid=True)
BROKER = SimpleNamespace(config=SimpleNamespace(issuer="https://broker.example"),
                         signing_keys=SimpleNamespace(public_keys=lambda: KeySet([KEY])))


def hint(**changes) -> str:
    claims = {"iss": "https://broker.example", "sub": "s", "aud": "app", "sid": "sid-1",
              "iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600, **changes}
    return jwt.encode({"alg": "ES256", "kid": KEY.kid}, claims, KEY)


def test_the_brokers_own_expired_id_token_is_a_hint():
    assert read_id_token_hint(BROKER, hint())["sid"] == "sid-1"


def test_an_id_token_of_another_issuer_signed_with_the_same_key_is_no_hint():
    assert read_id_token_hint(BROKER, hint(iss="https://other.example")) is None


def test_an_id_token_without_an_issuer_is_no_hint():
    assert read_id_token_hint(BROKER, hint(iss=None)) is None
