"""The authorization code grant (RFC 6749 section 4.1) with PKCE S256 only and OpenID Connect.

Codes live in Redis and are taken atomically, so a code is single-use across every broker
process; a second use also revokes the access token the first use obtained (RFC 6749 4.1.2).

The access token is made when its code is issued and stored with it (ADR 0024, issue 27), so
that `/token` asks Redis once: it takes the code, whose sealed record holds the token, and
returns that token. Until then nobody knows the token (its key holds a hash of it); a code
refused after it was taken has its token deleted.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode

from broker.config import AUTH_METHODS
from broker.errors import StateUnavailable
from broker.oidc.claims import (
    ClaimsEntitlement,
    ClaimsRequestError,
    SignedInResident,
    parse_claims_request,
)

log = logging.getLogger(__name__)


def generate_access_token() -> str:
    """256 random bits from the OS in one call (Authlib's default draws 42 characters one by
    one)."""
    return secrets.token_urlsafe(32)


def pre_issued_expires_in(code_data: dict[str, Any]) -> int:
    """What is left of the token made with the code (RFC 6749 5.1's `expires_in`), rounded
    down. At least `access_token_ttl_seconds` whenever the code is still alive to be redeemed
    (`save_authorization_code`); the floor of 1 only guards a clock stepped back."""
    return max(1, int(code_data["token_expires_at"] - time.time()))


def code_id(code: str) -> str:
    """Codes are never stored or logged in the clear beyond their own key's lifetime."""
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass
class AuthorizedResident:
    """The resident together with what this client asked for and may receive (its entitlement
    as registered when the code was issued)."""

    resident: SignedInResident
    claims_request: dict[str, dict[str, Any]] = field(default_factory=dict)
    entitlement: ClaimsEntitlement = field(default_factory=lambda: ClaimsEntitlement(()))

    def get_user_id(self) -> str:
        return self.resident.sub

    def to_json_dict(self) -> dict[str, Any]:
        allowed = self.entitlement.allowed
        return {"resident": self.resident.to_json_dict(), "claims_request": self.claims_request,
                "client_scopes": list(self.entitlement.scopes),
                "allowed_claims": list(allowed) if allowed is not None else None}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> AuthorizedResident:
        allowed = data.get("allowed_claims")
        return cls(SignedInResident.from_json_dict(data["resident"]),
                   data.get("claims_request") or {},
                   ClaimsEntitlement(tuple(data.get("client_scopes") or ()),
                                     tuple(allowed) if allowed is not None else None))

    def claims_for(self, target: str, scope: str) -> dict[str, Any]:
        return self.resident.released(target, scope, self.claims_request, self.entitlement)


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
        return self.data["user"]["resident"]["auth_time"]

    def get_acr(self) -> str:
        return self.data["user"]["resident"]["acr"]

    def get_amr(self) -> list[str] | None:
        return self.data["user"]["resident"].get("amr") or None


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
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    # The code this token request took from Redis (one grant per request), for its token to be
    # deleted if the request is then refused.
    _taken: dict[str, Any] | None = None

    def generate_authorization_code(self) -> str:
        """288 random bits from the OS in one call (Authlib's default draws 48 characters one
        by one, a tenth of the token request's CPU)."""
        return secrets.token_urlsafe(36)

    def validate_authorization_request(self):
        """Once per grant: the journey gets the grant from `get_consent_grant`, which validates
        the request, before it issues the code, and Authlib's `create_authorization_response`
        validates the same request on the same grant again (with every hook: PKCE, OpenID
        Connect's checks). A refusal is never remembered: it raises each time."""
        validated = getattr(self, "_validated_redirect_uri", None)
        if validated is not None:
            return validated[0]
        redirect_uri = super().validate_authorization_request()
        try:
            parse_claims_request(self.request.payload.data.get("claims"))
        except ClaimsRequestError as exc:
            raise InvalidRequestError(str(exc), redirect_uri=redirect_uri) from None
        self._validated_redirect_uri = (redirect_uri,)
        return redirect_uri

    def save_authorization_code(self, code: str, request) -> None:
        """The code and the access token it will obtain, written together (the request's
        batch: `broker.journey` writes the session in the same round trip).

        The token's lifetime starts now, when it is written: it lives the code's lifetime plus
        `access_token_ttl_seconds`, so that whenever the code is redeemed the council app still
        has at least `access_token_ttl_seconds` of it, and `/token`'s `expires_in` says exactly
        what is left (`pre_issued_expires_in`)."""
        broker = self.server.broker
        oidc = broker.config.oidc
        data = request.payload.data
        user = AuthorizedResident(request.user, parse_claims_request(data.get("claims")),
                                  request.client.claims_entitlement)
        client_id = request.client.get_client_id()
        scope = request.client.get_allowed_scope(request.payload.scope)
        issued_at = int(time.time())
        token_ttl = oidc.code_ttl_seconds + oidc.access_token_ttl_seconds
        user_data = user.to_json_dict()
        broker.state.save_code_and_token(code, {
            "code_id": code_id(code),
            "client_id": client_id,
            "redirect_uri": request.payload.redirect_uri,
            "scope": scope,
            "nonce": data.get("nonce"),
            "code_challenge": data.get("code_challenge"),
            "code_challenge_method": data.get("code_challenge_method"),
            "user": user_data,
            "issued_at": issued_at,
            "token_expires_at": issued_at + token_ttl,
        }, oidc.code_ttl_seconds, generate_access_token(), {
            "client_id": client_id,
            "scope": scope,
            "user": user_data,
            "issued_at": issued_at,
            "expires_in": token_ttl,
        }, token_ttl, code_id(code), request.user.sid)

    def query_authorization_code(self, code: str, client) -> StoredAuthorizationCode | None:
        """The code, taken: the one round trip of a successful `/token`. A code that is gone
        (used, expired, or its session logged out) revokes the token made with it."""
        state = self.server.broker.state
        data = state.take_code(code)
        if data is None:
            state.revoke_tokens_of_code(code_id(code))
            return None
        self._taken = data
        if data["client_id"] != client.get_client_id():
            return None
        return StoredAuthorizationCode(data)

    def validate_token_request(self):
        """Authlib's checks (client, code, redirect_uri, then PKCE's hook); a code taken and
        then refused has its token deleted (one more round trip, on that path only)."""
        self._taken = None
        try:
            super().validate_token_request()
        except Exception:
            self._discard_taken_token()
            raise

    def create_token_response(self):
        """Authlib's response (and OpenID Connect's ID token); a failure there also deletes the
        token of the code it took."""
        try:
            return super().create_token_response()
        except Exception:
            self._discard_taken_token()
            raise

    def _discard_taken_token(self) -> None:
        data = self._taken
        if data is None or not data.get("access_token"):
            return
        self._taken = None
        try:
            self.server.broker.state.discard_code_token(data["access_token"], data["code_id"])
        except StateUnavailable:  # the refusal stands; the token, known to nobody, expires
            log.warning("a refused code's access token could not be deleted now")

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True) -> dict[str, Any]:
        """The token made with the code (Authlib's BearerTokenGenerator's shape, no refresh
        token: the broker offers none)."""
        data = self.request.authorization_code.data
        if not data.get("access_token"):  # a code stored before its token was made with it
            raise InvalidGrantError("Invalid 'code' in request.")
        token = {"token_type": "Bearer", "access_token": data["access_token"],
                 "expires_in": pre_issued_expires_in(data)}
        if data["scope"]:
            token["scope"] = data["scope"]
        return token

    def save_token(self, token: dict[str, Any]) -> None:
        """Nothing to do: the token was stored with its code (`save_authorization_code`)."""

    def delete_authorization_code(self, authorization_code) -> None:
        """Nothing to do: the code was taken from Redis when it was queried."""

    def authenticate_user(self, authorization_code: StoredAuthorizationCode
                          ) -> AuthorizedResident:
        return AuthorizedResident.from_json_dict(authorization_code.data["user"])


class OpenIDConnectCode(OpenIDCode):
    """OIDC Core 3.1: the ID token, signed with the key for the client's algorithm."""

    def __init__(self, broker):
        super().__init__(require_nonce=False)
        self.broker = broker

    def exists_nonce(self, nonce: str, request) -> bool:
        return False

    def get_client_algorithm(self, client) -> str:
        return client.id_token_signed_response_alg

    def resolve_client_private_key(self, client):
        return self.broker.signing_keys.for_alg(client.id_token_signed_response_alg)

    def get_encode_header(self, client) -> dict[str, str]:
        alg = client.id_token_signed_response_alg
        return {"alg": alg, "kid": self.broker.signing_keys.for_alg(alg).kid, "typ": "JWT"}

    def get_client_claims(self, client) -> dict[str, Any]:
        return {"iss": self.broker.config.issuer, "aud": [client.get_client_id()],
                "exp": int(time.time()) + self.broker.config.oidc.id_token_ttl_seconds}

    def get_authorization_code_claims(self, authorization_code) -> dict[str, Any]:
        claims = super().get_authorization_code_claims(authorization_code)
        sid = authorization_code.data["user"]["resident"].get("sid")
        if sid:
            claims["sid"] = sid
        return claims

    def generate_user_info(self, user: AuthorizedResident, scope: str) -> UserInfo:
        return UserInfo(user.claims_for("id_token", scope))
