"""Authlib's authorization server and resource protector, wired to the broker's stores."""

from __future__ import annotations

import json
import time
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidRequestError,
    MissingAuthorizationError,
    OAuth2Error,
)
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Response, abort
from flask import request as flask_request

from broker.oidc.client_auth import ClientKeys, PrivateKeyJWTAuthentication
from broker.oidc.grants import (
    AuthorizationCodeGrant,
    AuthorizedResident,
    OpenIDConnectCode,
    ProofKeyForCodeExchange,
)
from broker.ratelimit import (
    count_client,
    count_failed_client_authentication,
    refuse_if_failing_client_authentication,
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


class ValuesOnce(FlaskOAuth2Payload):
    """Authlib's Flask payload reads `request.values` (werkzeug's merged query and form, behind a
    cached property) at every parameter it looks up; the token request looks up a dozen."""

    def __init__(self, request):
        super().__init__(request)
        self._values = request.values

    @property
    def data(self):
        return self._values


class RequestOnce(FlaskOAuth2Request):
    """Authlib's Flask request around the request object itself rather than Flask's
    context-local proxy (each attribute read through the proxy is a context lookup), with its
    values read once."""

    def __init__(self, request):
        super().__init__(request)
        self.payload = ValuesOnce(request)


GENERIC_DESCRIPTIONS = {
    "invalid_request": "the request is missing a parameter or holds one that is not valid",
    "invalid_client": "client authentication failed",
    "invalid_grant": "the authorization code is not valid",
    "unsupported_grant_type": "only grant_type=authorization_code is supported",
    "unsupported_response_type": "only response_type=code is supported",
    "invalid_scope": "the scope is not valid",
}


def without_raw_input(error: OAuth2Error, submitted) -> OAuth2Error:
    """An error whose description repeats nothing the client sent (RFC 6749 5.2 limits its
    characters; repeating input also reflects it into the client's logs): where Authlib's own
    description quotes a submitted value, a fixed one replaces it."""
    description = error.description or ""
    if any(len(value) >= 3 and value in description for value in submitted):
        error.description = GENERIC_DESCRIPTIONS.get(error.error, "the request was refused")
    return error


def submitted_values() -> list[str]:
    values = [v for _, v in flask_request.values.items(multi=True)]
    header = flask_request.headers.get("Authorization", "")
    return [*values, *header.split()]


class BrokerAuthorizationServer(AuthorizationServer):
    def __init__(self, broker):
        super().__init__()
        self.broker = broker

    def handle_error_response(self, request, error):
        return super().handle_error_response(request, without_raw_input(error, submitted_values()))

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        return RequestOnce(flask_request._get_current_object())

    def authenticate_client(self, request, methods, endpoint="token"):
        """Authlib's Basic parser raises ValueError on "Authorization: Basic " with nothing
        after it: that is a client that cannot authenticate (401), not a server error.

        One authentication method per request (RFC 6749 2.3): credentials in the Authorization
        header and in the body as well are `invalid_request`, whichever would have succeeded.

        Rate limits: the client's own limit counts only once it has authenticated; a failure
        counts against the address's failure limit instead (broker/ratelimit.py)."""
        in_body = any(flask_request.form.get(name) for name in ("client_secret",
                                                                  "client_assertion"))
        if in_body and flask_request.headers.get("Authorization"):
            raise InvalidRequestError("send client credentials in one way only: the "
                                      "Authorization header or the request body")
        refuse_if_failing_client_authentication()
        try:
            client = super().authenticate_client(request, methods, endpoint)
        except ValueError:
            count_failed_client_authentication()
            raise InvalidClientError(description="malformed Authorization header") from None
        except InvalidClientError:
            count_failed_client_authentication()
            raise
        count_client(endpoint, client.get_client_id())
        return client

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
    """The access token is made, and stored, with its code (`AuthorizationCodeGrant`'s
    `save_authorization_code`), so the server needs no token generator or `save_token`."""
    server = BrokerAuthorizationServer(broker)
    server.init_app(app, query_client=broker.clients.get)
    server.register_grant(AuthorizationCodeGrant,
                          [ProofKeyForCodeExchange(required=True), OpenIDConnectCode(broker)])
    server.register_extension(Issuer(broker.config.issuer))
    server.register_client_auth_method(
        PrivateKeyJWTAuthentication.CLIENT_AUTH_METHOD,
        PrivateKeyJWTAuthentication(broker, ClientKeys()))
    return server


class BrokerResourceProtector(ResourceProtector):
    """RFC 6750: the token in an `Authorization: Bearer` header (2.1) or, on a POST, in an
    `access_token` form field (2.2; pyoidc's default for /userinfo), never both. Errors use RFC
    6750's codes (3.1): `invalid_request`, `invalid_token`, `insufficient_scope`; a request with
    no token at all gets the challenge without an error code, as 3.1 asks."""

    def __init__(self, realm: str):
        super().__init__()
        self.realm = realm

    def parse_request_authorization(self, request):
        header = flask_request.headers.get("Authorization", "")
        in_body = (flask_request.method == "POST"
                   and flask_request.mimetype == "application/x-www-form-urlencoded"
                   and "access_token" in flask_request.form)
        if header and in_body:
            raise InvalidRequestError("send the access token in one way only (RFC 6750 2)")
        if in_body:
            return self.get_token_validator("bearer"), flask_request.form["access_token"]
        if not header:
            raise MissingAuthorizationError(self._default_auth_type, self._default_realm)
        token_type, _, token = header.partition(" ")
        if token_type.lower() != "bearer" or not token.strip():
            raise InvalidRequestError("the Authorization header must be 'Bearer <token>'")
        return self.get_token_validator("bearer"), token.strip()

    def raise_error_response(self, error):
        code = "invalid_request" if error.error in ("missing_authorization",
                                                    "unsupported_token_type") else error.error
        description = error.description
        status = error.status_code
        challenge = f'Bearer realm="{self.realm}"'
        if error.error == "missing_authorization":
            description = ("no access token: send it in an 'Authorization: Bearer' header or "
                           "an 'access_token' form field")
            status = 401
        else:
            challenge += f', error="{code}"'
            if description:
                challenge += f', error_description="{description}"'
        body = json.dumps({"error": code, "error_description": description})
        # A finished response: Flask returns it as it is, past the resident pages' handlers.
        abort(Response(body, status, [
            ("WWW-Authenticate", challenge), ("Content-Type", "application/json"),
            ("Cache-Control", "no-store")]))


def build_resource_protector(broker) -> ResourceProtector:
    protector = BrokerResourceProtector(broker.config.issuer)
    protector.register_token_validator(RedisBearerTokenValidator(broker))
    return protector
