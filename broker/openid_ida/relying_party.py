"""The broker as the OpenID provider's relying party, on Authlib's OAuth 2.0 client.

The authentication request (OpenID Connect Core 3.1.2.1) is the authorization code flow with
PKCE S256 (RFC 7636), `state` the flow id, a fresh `nonce` and the `claims` parameter asking for
`verified_claims` (broker.openid_ida.verified_claims). The token request authenticates with
`private_key_jwt` (RFC 7523 section 2.2, Authlib's `PrivateKeyJWT`; audience the token endpoint,
a fresh `jti`, five minutes' life) or `client_secret_basic`, as configured. The ID token is checked
by broker.openid_ida.id_token; /userinfo is asked with the access token and must be about the
same `sub` (Core 5.3.2).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey, RSAKey

from broker.config import OpenIdIdaConfig
from broker.identity import LevelOfAssurance, OpenIdRequest
from broker.openid_ida.id_token import IdTokenRejected, verified_id_token
from broker.openid_ida.provider import OpenIdProvider, ProviderUnavailable
from broker.openid_ida.verified_claims import claims_request
from broker.upstreams.id_token import IdTokenClaims
from broker.upstreams.published_documents import CONNECT_TIMEOUT, MAX_DOCUMENT_BYTES

CLIENT_ASSERTION_SECONDS = 300


class LevelNotOffered(Exception):
    """No rule of the operator's mapping reaches the level the council needs."""


class AnswerRejected(Exception):
    """The provider's answer cannot be trusted for this flow; the message says why."""


@dataclass(frozen=True)
class AuthenticationRequest:
    url: str
    request: OpenIdRequest


@dataclass(frozen=True)
class ProviderAnswer:
    """What the provider said about the resident, every signature and binding checked."""

    issuer: str
    id_token: dict[str, Any]
    verified_claims: Any  # still to be read against the level mapping
    raw_id_token: str


def _too_large(response: requests.Response) -> requests.Response:
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise AnswerRejected("the token endpoint answered with too much")
    return response


class RelyingParty:
    def __init__(self, config: OpenIdIdaConfig, provider: OpenIdProvider, redirect_uri: str,
                 clock=None):
        self.config = config
        self.provider = provider
        self.redirect_uri = redirect_uri
        self.clock = clock or provider.clock

    def _session(self, token_endpoint: str) -> OAuth2Session:
        config = self.config
        common = {"scope": " ".join(config.scopes), "redirect_uri": self.redirect_uri,
                  "code_challenge_method": "S256", "leeway": 0,
                  "default_timeout": (CONNECT_TIMEOUT, config.timeout_seconds)}
        if config.client_auth == "client_secret_basic":
            session = OAuth2Session(config.client_id, config.client_secret,
                                    token_endpoint_auth_method="client_secret_basic", **common)
        else:
            jwk = config.signing_jwk
            key = (ECKey if jwk["kty"] == "EC" else RSAKey).import_key(dict(jwk))
            session = OAuth2Session(config.client_id, key,
                                    token_endpoint_auth_method="private_key_jwt", **common)
            now = int(self.clock())
            session.register_client_auth_method(PrivateKeyJWT(
                token_endpoint, alg=config.client_assertion_alg,
                headers={"kid": key.kid} if key.kid else None,
                claims={"iat": now, "exp": now + CLIENT_ASSERTION_SECONDS}))
        session.register_compliance_hook("access_token_response", _too_large)
        return session

    def authentication_request(self, state: str, minimum: LevelOfAssurance, ui_locale: str,
                               force_login: bool) -> AuthenticationRequest:
        """Raises ProviderUnavailable (no discovery document) or LevelNotOffered."""
        claims = claims_request(self.config, minimum)
        if claims is None:
            raise LevelNotOffered(f"no rule of the level mapping reaches {minimum.name}")
        trust = self.provider.current()
        request = OpenIdRequest(nonce=secrets.token_urlsafe(32),
                                code_verifier=secrets.token_urlsafe(48))
        extra = {"nonce": request.nonce, "claims": json.dumps(claims, separators=(",", ":")),
                 "ui_locales": ui_locale if ui_locale in ("en", "cy") else "en"}
        if force_login:
            extra["prompt"] = "login"
        with self._session(trust.provider.token_endpoint) as session:
            url, _ = session.create_authorization_url(
                trust.provider.authorization_endpoint, state=state,
                code_verifier=request.code_verifier, **extra)
        return AuthenticationRequest(url, request)

    def redeem(self, code: str, request: OpenIdRequest) -> ProviderAnswer:
        """Raises AnswerRejected (untrustworthy answer) or ProviderUnavailable (cannot ask)."""
        trust = self.provider.current()
        endpoint = trust.provider.token_endpoint
        with self._session(endpoint) as session:
            try:
                tokens = session.fetch_token(endpoint, code=code,
                                             code_verifier=request.code_verifier)
            except OAuthError as exc:
                raise AnswerRejected(f"the token endpoint refused: {str(exc.error)[:40]}") from None
            except requests.HTTPError as exc:
                raise ProviderUnavailable(f"the token endpoint answered "
                                          f"{exc.response.status_code}") from None
            except requests.RequestException as exc:
                raise ProviderUnavailable(f"token request failed: {type(exc).__name__}") from None
            except ValueError:
                raise AnswerRejected("the token endpoint's answer is not a JSON object") from None
            raw = tokens.get("id_token")
            checks = IdTokenClaims(issuer=trust.provider.issuer, client_id=self.config.client_id,
                                   nonce=request.nonce, now=int(self.clock()),
                                   leeway=self.config.clock_skew_seconds)
            try:
                id_token = verified_id_token(raw, self.provider, trust, checks)
            except IdTokenRejected as exc:
                raise AnswerRejected(str(exc)) from None
            if str(tokens.get("token_type", "")).lower() != "bearer" or not tokens.get(
                    "access_token"):
                raise AnswerRejected("the token response has no bearer access token")
            userinfo = self._userinfo(session, trust.provider.userinfo_endpoint)
        if userinfo.get("sub") != id_token["sub"]:
            raise AnswerRejected("/userinfo is about another user than the ID token")
        source = id_token if self.config.verified_claims_in == "id_token" else userinfo
        return ProviderAnswer(trust.provider.issuer, id_token, source.get("verified_claims"), raw)

    def _userinfo(self, session: OAuth2Session, endpoint: str) -> dict[str, Any]:
        try:
            response = session.get(endpoint, headers={"Accept": "application/json"})
        except OAuthError as exc:  # Authlib refuses to send an access token already expired
            raise AnswerRejected(f"the access token is not usable: {exc.error}") from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"/userinfo failed: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"/userinfo answered {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise AnswerRejected("/userinfo answered with too much")
        if response.status_code != 200:
            raise AnswerRejected(f"/userinfo refused: {response.status_code}")
        if not response.headers.get("Content-Type", "").startswith("application/json"):
            raise AnswerRejected("/userinfo did not answer JSON (signed or encrypted userinfo "
                                 "responses are not supported)")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AnswerRejected("/userinfo's answer is not a JSON object")
        return body
