"""The authorization code grant (RFC 6749 section 4.1) with PKCE S256 only and OpenID Connect.

Codes live in Redis and are taken atomically, so a code is single-use across every broker process.
"""

from __future__ import annotations

import time
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode

from broker.oidc.claims import SignedInResident


class StoredAuthorizationCode:
    """An authorization code as read back from Redis (Authlib's AuthorizationCodeMixin)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.code_challenge = data["code_challenge"]
        self.code_challenge_method = data["code_challenge_method"]

    def get_redirect_uri(self) -> str:
        return self.data["redirect_uri"]

    def get_scope(self) -> str:
        return self.data["scope"]

    def get_nonce(self) -> str | None:
        return self.data.get("nonce")

    def get_auth_time(self) -> int:
        return self.data["user"]["auth_time"]

    def get_acr(self) -> str:
        return self.data["user"]["acr"]

    def get_amr(self) -> list[str] | None:
        return None


class ProofKeyForCodeExchange(CodeChallenge):
    """RFC 7636, narrowed: every client must send a challenge, and only S256 is accepted.

    Authlib's CodeChallenge lets a request without a challenge through and treats a missing
    method as `plain`; a broker of verified identities allows neither.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'",
                                      redirect_uri=redirect_uri)
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE 'code_challenge_method' must be S256",
                                      redirect_uri=redirect_uri)
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def save_authorization_code(self, code: str, request) -> None:
        broker = self.server.broker
        data = request.payload.data
        broker.state.save_code(code, {
            "client_id": request.client.get_client_id(),
            "redirect_uri": request.payload.redirect_uri,
            "scope": request.client.get_allowed_scope(request.payload.scope),
            "nonce": data.get("nonce"),
            "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
            "user": request.user.to_json_dict(),
            "issued_at": int(time.time()),
        }, ttl=broker.config.oidc.code_ttl_seconds)

    def query_authorization_code(self, code: str, client) -> StoredAuthorizationCode | None:
        data = self.server.broker.state.take_code(code)
        if data is None or data["client_id"] != client.get_client_id():
            return None
        return StoredAuthorizationCode(data)

    def delete_authorization_code(self, authorization_code) -> None:
        """Nothing to do: the code was taken from Redis when it was queried."""

    def authenticate_user(self, authorization_code: StoredAuthorizationCode
                          ) -> SignedInResident:
        return SignedInResident.from_json_dict(authorization_code.data["user"])


class OpenIDConnectCode(OpenIDCode):
    """OIDC Core 3.1: the ID token, signed with the provider's active key."""

    def __init__(self, broker):
        super().__init__(require_nonce=False)
        self.broker = broker

    def exists_nonce(self, nonce: str, request) -> bool:
        return False

    def resolve_client_private_key(self, client):
        return self.broker.signing_keys.active

    def get_client_algorithm(self, client) -> str:
        return self.broker.signing_keys.alg

    def get_encode_header(self, client) -> dict[str, str]:
        return {"alg": self.broker.signing_keys.alg, "kid": self.broker.signing_keys.kid}

    def get_client_claims(self, client) -> dict[str, Any]:
        return {"iss": self.broker.config.issuer, "aud": [client.get_client_id()],
                "exp": int(time.time()) + self.broker.config.oidc.id_token_ttl_seconds}

    def generate_user_info(self, user: SignedInResident, scope: str) -> UserInfo:
        return UserInfo(user.released(scope))
