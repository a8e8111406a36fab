"""The provider's ID token signing keys and the JWKS that publishes their public halves.

Rotation follows the usual three steps: a new key is configured with `signs: false` (published,
so clients' caches learn it), then made the signing key, and the old one stays published with
`signs: false` until every token it signed has expired.
"""

from __future__ import annotations

from typing import Any

from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from broker.config import SigningKeyConfig

ALG_FOR_KTY = {"EC": "ES256", "RSA": "RS256"}


class SigningKeys:
    def __init__(self, configured: tuple[SigningKeyConfig, ...]):
        self._published: list[tuple[Key, str]] = []
        self._signing: dict[str, Key] = {}
        for item in configured:
            key_type = ECKey if item.jwk["kty"] == "EC" else RSAKey
            key = key_type.import_key(item.jwk)
            alg = item.jwk.get("alg") or ALG_FOR_KTY[item.jwk["kty"]]
            if not key.kid:
                key = key_type.import_key({**item.jwk, "kid": key.thumbprint()})
            self._published.append((key, alg))
            if item.signs:
                self._signing.setdefault(alg, key)
        self._jwks = KeySet.import_key_set({"keys": [
            {**key.as_dict(private=False), "kid": key.kid, "use": "sig", "alg": alg}
            for key, alg in self._published]}).as_dict(private=False)

    @property
    def algorithms(self) -> list[str]:
        return sorted(self._signing)

    def for_alg(self, alg: str) -> Key:
        return self._signing[alg]

    def public_keys(self) -> KeySet:
        return KeySet.import_key_set(self._jwks)

    def jwks(self) -> dict[str, Any]:
        return self._jwks
