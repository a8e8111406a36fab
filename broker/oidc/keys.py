"""The provider's ID token signing keys and the JWKS that publishes their public halves."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey


class SigningKeys:
    def __init__(self, private_jwk: dict[str, Any]):
        key_type = ECKey if private_jwk["kty"] == "EC" else RSAKey
        self.active = key_type.import_key(private_jwk)
        self.alg = private_jwk.get("alg") or ("ES256" if private_jwk["kty"] == "EC" else "RS256")
        self.kid = self.active.kid or self.active.thumbprint()

    def jwks(self) -> dict[str, Any]:
        public = self.active.as_dict(private=False)
        public.update({"kid": self.kid, "use": "sig", "alg": self.alg})
        return KeySet.import_key_set({"keys": [public]}).as_dict(private=False)
