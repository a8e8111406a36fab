"""A fake One Login for unit-level tests, served through `responses`: real keys, real signed
ID tokens and core identity JWTs, each of which a test can spoil in one place."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import responses
from joserfc import jwt
from joserfc.jwk import ECKey

ISSUER = "https://oidc.one-login.test/"
IDENTITY_ISSUER = "https://identity.one-login.test/"
DID = "did:web:identity.one-login.test"
DID_URL = "https://identity.one-login.test/.well-known/did.json"
CLIENT_ID = "broker-client"
SUB = "urn:fdc:gov.uk:2022:resident-0001"
CORE_IDENTITY = "https://vocab.account.gov.uk/v1/coreIdentityJWT"
ADDRESS = "https://vocab.account.gov.uk/v1/address"
RETURN_CODE = "https://vocab.account.gov.uk/v1/returnCode"

NAMES = [
    {"validUntil": "2010-06-30", "nameParts": [
        {"type": "GivenName", "value": "Jane"}, {"type": "GivenName", "value": "Ann"},
        {"type": "FamilyName", "value": "Smith"}]},
    {"validFrom": "2010-07-01", "nameParts": [
        {"type": "GivenName", "value": "Jane"}, {"type": "GivenName", "value": "Ann"},
        {"type": "FamilyName", "value": "Doe"}]},
]
ADDRESSES = [
    {"uprn": 100023336956, "buildingNumber": "1", "streetName": "COUNCIL STREET",
     "addressLocality": "BOROUGH", "postalCode": "AB1 2CD", "addressCountry": "GB",
     "validFrom": "2015-06-01"},
    {"buildingName": "OLD HOUSE", "streetName": "OLD ROAD", "addressLocality": "OLDTOWN",
     "postalCode": "OT9 8ZY", "addressCountry": "GB", "validFrom": "2005-01-01",
     "validUntil": "2015-05-31"},
]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    """The payload of a JWS, unverified: for building spoiled copies of a good token."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def unsigned_jwt(header: dict, claims: dict) -> str:
    return f"{_b64(header)}.{_b64(claims)}."


@dataclass
class FakeOneLogin:
    id_token_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", auto_kid=True))
    identity_key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", auto_kid=True))
    did_document: dict | None = None
    token_requests: list[dict[str, str]] = field(default_factory=list)
    code_used: bool = False

    @property
    def identity_kid(self) -> str:
        return f"{DID}#{self.identity_key.kid}"

    def register(self, mock: responses.RequestsMock) -> None:
        mock.add(responses.GET, f"{ISSUER}.well-known/openid-configuration", json={
            "issuer": ISSUER, "authorization_endpoint": f"{ISSUER}authorize",
            "token_endpoint": f"{ISSUER}token", "userinfo_endpoint": f"{ISSUER}userinfo",
            "jwks_uri": f"{ISSUER}.well-known/jwks.json",
            "id_token_signing_alg_values_supported": ["ES256", "RS256"]})
        mock.add_callback(responses.GET, f"{ISSUER}.well-known/jwks.json", callback=lambda _r: (
            200, {}, json.dumps({"keys": [self.id_token_key.as_dict(private=False)]})))
        mock.add_callback(responses.GET, DID_URL, callback=lambda _r: (
            200, {}, json.dumps(self.did_document or self.default_did_document())))

    def default_did_document(self) -> dict:
        return {"@context": ["https://www.w3.org/ns/did/v1"], "id": DID,
                "assertionMethod": [{"type": "JsonWebKey", "id": self.identity_kid,
                                     "controller": DID,
                                     "publicKeyJwk": self.identity_key.as_dict(private=False)}]}

    def id_token(self, nonce: str, **changes: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": CLIENT_ID, "sub": SUB, "iat": now, "exp": now + 180,
                  "auth_time": now - 5, "nonce": nonce, "vot": "Cl.Cm", "sid": "s1"}
        claims.update(changes)
        return jwt.encode({"alg": "ES256", "kid": self.id_token_key.kid}, claims,
                          self.id_token_key)

    def core_identity(self, key: ECKey | None = None, kid: str | None = None,
                      **changes: Any) -> str:
        now = int(time.time())
        claims = {"iss": IDENTITY_ISSUER, "aud": CLIENT_ID, "sub": SUB, "nbf": now, "iat": now,
                  "exp": now + 3600, "vot": "P2", "vtm": "https://oidc.one-login.test/trustmark",
                  "vc": {"type": ["VerifiableCredential", "IdentityCheckCredential"],
                         "credentialSubject": {"name": NAMES,
                                               "birthDate": [{"value": "1980-05-01"}]}}}
        claims.update(changes)
        return jwt.encode({"alg": "ES256", "kid": kid or self.identity_kid}, claims,
                          key or self.identity_key)

    def answer(self, mock: responses.RequestsMock, id_token: str, userinfo: dict) -> None:
        """The token endpoint (one use per code, as One Login) and /userinfo for one sign-in."""

        def token(request):
            self.token_requests.append({k: v[0] for k, v in parse_qs(request.body).items()})
            if self.code_used:
                return 400, {}, json.dumps({"error": "invalid_grant"})
            self.code_used = True
            return 200, {}, json.dumps({"access_token": "at-1", "token_type": "Bearer",
                                        "id_token": id_token})

        mock.add_callback(responses.POST, f"{ISSUER}token", callback=token)
        mock.add(responses.GET, f"{ISSUER}userinfo", json=userinfo)

    def userinfo(self, core_identity: str | None = None, **changes: Any) -> dict:
        info = {"sub": SUB, CORE_IDENTITY: core_identity or self.core_identity(),
                ADDRESS: ADDRESSES}
        info.update(changes)
        return info
