"""Authlib's authorization server and resource protector, wired to the broker's stores."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.errors import raise_http_exception
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidRequestError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc9207 import IssuerParameter

from broker.oidc.client_auth import ClientKeys, PrivateKeyJWTAuthentication
from broker.oidc.grants import (
    AuthorizationCodeGrant,
    AuthorizedResident,
    OpenIDConnectCode,
    ProofKeyForCodeExchange,
)


class StoredAuthorizationRequest(OAuth2Request):
    """A council app's /authorize request replayed from the Flow after the hub has answered."""

    def __init__(self, uri: str, params: dict[str, str]):
        super().__init__("GET", uri)
        self.payload = BasicOAuth2Payload(params)
        self._args = params

    @property
    def args(self):
        return self._args


class BrokerAuthorizationServer(AuthorizationServer):
    def __init__(self, broker):
        super().__init__()
        self.broker = broker

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)

    def authenticate_client(self, request, methods, endpoint="token"):
        """Authlib's Basic parser raises ValueError on "Authorization: Basic " with nothing
        after it: that is a client that cannot authenticate (401), not a server error."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except ValueError:
            raise InvalidClientError(description="malformed Authorization header") from None

    def get_consent_grant(self, request=None, end_user=None):
        """Authlib quotes request values in some error descriptions and raises ValueError when
        they hold characters RFC 6749 5.2 forbids there (`"`, `\\`, non-ASCII): a hostile
        parameter is an invalid request, not a server error."""
        try:
            return super().get_consent_grant(request, end_user)
        except ValueError:
            raise InvalidRequestError("a parameter holds characters that are not allowed") from None


class Issuer(IssuerParameter):
    """RFC 9207: `iss` in every authorization response."""

    def __init__(self, issuer: str):
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class AccessToken:
    def __init__(self, data: dict[str, Any]):
        self.data = data

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.data["client_id"]

    def get_scope(self) -> str:
        return self.data["scope"]

    def get_expires_in(self) -> int:
        return self.data["expires_in"]

    def is_expired(self) -> bool:
        return time.time() >= self.data["issued_at"] + self.data["expires_in"]

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> AuthorizedResident:
        return AuthorizedResident.from_json_dict(self.data["user"])


class RedisBearerTokenValidator(BearerTokenValidator):
    def __init__(self, broker):
        super().__init__()
        self.broker = broker

    def authenticate_token(self, token_string: str) -> AccessToken | None:
        if not token_string or len(token_string) > 512:
            return None
        data = self.broker.state.get_access_token(token_string)
        return AccessToken(data) if data else None


def build_authorization_server(app, broker) -> BrokerAuthorizationServer:
    def save_token(token: dict[str, Any], request) -> None:
        broker.state.save_access_token(token["access_token"], {
            "client_id": request.client.get_client_id(),
            "scope": token.get("scope", ""),
            "user": request.user.to_json_dict(),
            "issued_at": int(time.time()),
            "expires_in": token["expires_in"],
        }, ttl=token["expires_in"], code_id=request.authorization_code.data["code_id"],
            sid=request.user.resident.sid)

    # 256 random bits from the OS in one call; Authlib's default draws 42 characters one by one.
    app.config["OAUTH2_ACCESS_TOKEN_GENERATOR"] = lambda *_args, **_kwargs: secrets.token_urlsafe(32)
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": broker.config.oidc.access_token_ttl_seconds}
    server = BrokerAuthorizationServer(broker)
    server.init_app(app, query_client=broker.clients.get, save_token=save_token)
    server.register_grant(AuthorizationCodeGrant,
                          [ProofKeyForCodeExchange(required=True), OpenIDConnectCode(broker)])
    server.register_extension(Issuer(broker.config.issuer))
    server.register_client_auth_method(
        PrivateKeyJWTAuthentication.CLIENT_AUTH_METHOD,
        PrivateKeyJWTAuthentication(broker, ClientKeys()))
    return server


class BrokerResourceProtector(ResourceProtector):
    """RFC 6750 section 3: `Bearer realm=...`, with an error code only when a token was sent."""

    def __init__(self, realm: str):
        super().__init__()
        self.realm = realm

    def raise_error_response(self, error):
        challenge = f'Bearer realm="{self.realm}"'
        if error.error != "missing_authorization":
            challenge += f', error="{error.error}"'
            if error.description:
                challenge += f', error_description="{error.description}"'
        body = json.dumps({"error": error.error, "error_description": error.description})
        raise_http_exception(error.status_code, body, [
            ("WWW-Authenticate", challenge), ("Content-Type", "application/json"),
            ("Cache-Control", "no-store")])


def build_resource_protector(broker) -> ResourceProtector:
    protector = BrokerResourceProtector(broker.config.issuer)
    protector.register_token_validator(RedisBearerTokenValidator(broker))
    return protector
