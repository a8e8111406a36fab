"""A fake OIDC4IDA provider for unit-level tests, served through `responses`: real keys, real
signed ID tokens, a real PKCE check; each test can spoil one thing."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import responses
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from broker.config import AssuranceRule, BrokerConfig, OpenIdIdaConfig, SigningKeyConfig
from broker.identity import LevelOfAssurance

ISSUER = "https://idp.ida.test"
CLIENT_ID = "broker-ida-client"
SUB = "ida-resident-0001"
VERIFIED = {
    "verification": {"trust_framework": "uk_tfida", "assurance_level": "medium",
                     "time": "2026-10-01T09:30Z"},
    "claims": {"given_name": "Jane", "family_name": "Doe", "birthdate": "1980-02-29",
               "address": {"street_address": "1 Council Street", "locality": "Borough",
                           "postal_code": "AB1 2CD", "country": "GB"}},
}
RULES = (AssuranceRule("uk_tfida", LevelOfAssurance.LEVEL_2, assurance_level="medium"),)


def client_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True, private=True)


def ida_config(key: RSAKey | None = None, **changes) -> OpenIdIdaConfig:
    values: dict[str, Any] = {"issuer": ISSUER, "client_id": CLIENT_ID, "levels": RULES}
    if key is not None:
        values.update(client_auth="private_key_jwt",
                      signing_keys=(SigningKeyConfig(key.as_dict(private=True), True),))
    else:
        values.update(client_auth="client_secret_basic", client_secret="a-client-secret-of-length")
    return OpenIdIdaConfig(**{**values, **changes})


def broker_config(ida: OpenIdIdaConfig) -> BrokerConfig:
    """Just enough of a BrokerConfig for the plug-in (it reads `issuer` and `openid_ida`)."""
    class Config:
        issuer = "https://broker.test"
        openid_ida = ida
    return Config()  # type: ignore[return-value]


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass
class FakeProvider:
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    verified_claims: Any = field(default_factory=lambda: VERIFIED)
    id_token_changes: dict[str, Any] = field(default_factory=dict)
    userinfo_changes: dict[str, Any] = field(default_factory=dict)
    signing_key: RSAKey | None = None  # signs ID tokens instead of `key` (not published)
    token_status: int = 200
    token_error: str | None = None
    nonce: str = ""
    code_challenge: str = ""
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    discovery: dict[str, Any] = field(default_factory=dict)
    client_jwks: KeySet | None = None

    def authorize(self, url: str) -> None:
        """What the provider keeps from the authentication request the broker sent."""
        query = {k: v[0] for k, v in parse_qs(url.split("?", 1)[1]).items()}
        assert query["code_challenge_method"] == "S256"
        self.nonce, self.code_challenge = query["nonce"], query["code_challenge"]

    def id_token(self) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": SUB, "aud": CLIENT_ID, "nonce": self.nonce,
                  "iat": now, "exp": now + 300, "auth_time": now - 5}
        claims.update(self.id_token_changes)
        claims = {k: v for k, v in claims.items() if v is not None}
        key = self.signing_key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def document(self) -> dict[str, Any]:
        return {"issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth",
                "token_endpoint": f"{ISSUER}/token", "userinfo_endpoint": f"{ISSUER}/me",
                "jwks_uri": f"{ISSUER}/jwks", "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"], "claims_parameter_supported": True,
                "token_endpoint_auth_methods_supported": ["private_key_jwt",
                                                          "client_secret_basic"],
                "trust_frameworks_supported": ["uk_tfida"],
                "claims_in_verified_claims_supported": ["given_name", "family_name",
                                                        "birthdate", "address"],
                **self.discovery}

    def register(self, mock: responses.RequestsMock) -> None:
        mock.add_callback(responses.GET, f"{ISSUER}/.well-known/openid-configuration",
                          callback=lambda _r: (200, {}, json.dumps(self.document())))
        mock.add_callback(responses.GET, f"{ISSUER}/jwks", callback=lambda _r: (
            200, {}, json.dumps({"keys": [self.key.as_dict(private=False)]})))
        mock.add_callback(responses.POST, f"{ISSUER}/token", callback=self._token)
        mock.add_callback(responses.GET, f"{ISSUER}/me", callback=self._userinfo)

    def _token(self, request) -> tuple[int, dict, str]:
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        self.token_requests.append({"form": form, "headers": dict(request.headers)})
        if self.token_status != 200:
            return self.token_status, {}, "upstream trouble"
        if self.token_error or _s256(form.get("code_verifier", "")) != self.code_challenge:
            return 400, {"Content-Type": "application/json"}, json.dumps(
                {"error": self.token_error or "invalid_grant"})
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": "at-123", "token_type": "Bearer", "expires_in": 60,
             "id_token": self.id_token()})

    def _userinfo(self, request) -> tuple[int, dict, str]:
        if request.headers.get("Authorization") != "Bearer at-123":
            return 401, {}, ""
        body = {"sub": SUB, "verified_claims": self.verified_claims, **self.userinfo_changes}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)
