"""One Login's answer at the broker's redirect URI, turned into a `VerifiedIdentity` or a failure.

For a code: the token request with `private_key_jwt`, the ID token checked (signature against
One Login's JWKS, `iss`, `aud`, `nonce`, `exp`, `iat`), /userinfo for the same `sub`, and the
core identity JWT checked against the DID document (broker.one_login.core_identity). For an error:
one of the protocol-neutral failure kinds (broker.upstreams.interface).

The answer names the resident by One Login's issuer and `sub`, which the journey hashes per
council exactly as Verify's hashed PID is (broker.pairwise): the same resident has unlinkable
identifiers at different councils, stable across restarts and key rotation.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError

from broker.config import OneLoginConfig
from broker.identity import LevelOfAssurance
from broker.one_login.authorization import (
    ADDRESS_CLAIM,
    CORE_IDENTITY_CLAIM,
    RETURN_CODE_CLAIM,
    AuthenticationRequest,
    build_authentication_request,
)
from broker.one_login.client_auth import ASSERTION_LIFETIME_SECONDS, signing_key
from broker.one_login.core_identity import CoreIdentityRejected, core_identity, validate_core_identity
from broker.one_login.did import DidDocumentError
from broker.one_login.provider import OneLoginProvider, OneLoginUnavailable, PublishedTrust
from broker.upstreams.id_token import IdTokenClaims
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure
from broker.upstreams.published_documents import CONNECT_TIMEOUT, MAX_DOCUMENT_BYTES

log = logging.getLogger(__name__)

# The ID token claim a check refused (broker.upstreams.id_token) → what the log says.
ID_TOKEN_REFUSALS = {
    "iss": "the ID token is not from One Login",
    "aud": "the ID token is for another client",
    "azp": "the ID token is for another client",
    "nonce": "the ID token's nonce is not this flow's",
    "exp": "the ID token has expired",
    "iat": "the ID token is issued in the future",
    "sub": "the ID token has no sub",
}


class AnswerRejected(Exception):
    """One Login's answer cannot be trusted for this flow; it never becomes a sign-in."""


# One Login's authorization errors (OIDC Core 3.1.2.6) → the protocol-neutral failure kinds.
# access_denied is the resident choosing to stop at One Login: a cancel, not a failed check.
ERRORS = {
    "access_denied": FailureKind.CANCELLED,
    "login_required": FailureKind.LOGIN_REQUIRED,
    "temporarily_unavailable": FailureKind.UNAVAILABLE,
    "server_error": FailureKind.UNAVAILABLE,
}


def failure_for_error(error: str, description: str | None = None) -> UpstreamFailure:
    """One Login's `error_description` says what it refused (an unregistered `vtr`, a scope),
    never who the resident is: it goes to the log, shortened and printable."""
    detail = f"One Login answered {error[:40]!r}"
    if description:
        detail += f" ({loggable(description)})"
    return UpstreamFailure(ERRORS.get(error, FailureKind.UNAVAILABLE), detail)


def loggable(text: str, limit: int = 200) -> str:
    return repr("".join(c for c in str(text)[:limit] if c.isprintable()))


@dataclass(frozen=True)
class ExpectedAnswer:
    """What the flow asked One Login for."""

    nonce: str
    redirect_uri: str


class OneLoginClient:
    """The broker as One Login's relying party: one client for every council."""

    def __init__(self, config: OneLoginConfig, provider: OneLoginProvider, clock=time.time):
        self.config = config
        self.provider = provider
        self.clock = clock

    def issuer(self) -> str | None:
        """One Login's issuer from the documents in hand (no fetch): the `issuer` of its identities."""
        trust = self.provider.last_good()
        return trust.provider.issuer if trust else None

    def authentication_request(self, state: str, minimum: LevelOfAssurance, ui_locale: str,
                               force_login: bool, redirect_uri: str) -> AuthenticationRequest:
        """Raises OneLoginUnavailable (no discovery document) or LevelNotOffered."""
        endpoint = self.provider.current().provider.authorization_endpoint
        return build_authentication_request(self.config, endpoint, redirect_uri, state, minimum,
                                            ui_locale, force_login)

    def redeem(self, code: str, expected: ExpectedAnswer) -> UpstreamAnswer | UpstreamFailure:
        """Raises AnswerRejected (untrustworthy answer) or OneLoginUnavailable (cannot ask).

        The level against the flow's minimum, `auth_time` against `max_age` and
        `prompt=login`, freshness and replay are the journey's checks, as for every upstream."""
        trust = self.provider.current()
        tokens = self._token_request(trust, code, expected.redirect_uri)
        # A refetch for the ID token's key replaces `trust` for the rest of this redemption.
        id_token, trust = self._id_token(trust, tokens.get("id_token"), expected.nonce)
        userinfo = self._userinfo(trust, tokens.get("access_token"))
        if userinfo.get("sub") != id_token["sub"]:
            raise AnswerRejected("/userinfo is about another user than the ID token")
        token = userinfo.get(CORE_IDENTITY_CLAIM)
        if token is None:
            returned = userinfo.get(RETURN_CODE_CLAIM)
            codes = [c.get("code") for c in (returned if isinstance(returned, list) else [])
                     if isinstance(c, dict)]
            log.info("One Login returned no core identity (return codes %s)",
                     ",".join(str(c)[:8] for c in codes) or "none")
            return UpstreamFailure(FailureKind.NOT_PROVEN, "One Login returned no core identity")
        claims = self._core_identity_claims(trust, token, id_token["sub"])
        try:
            identity = core_identity(claims, userinfo.get(ADDRESS_CLAIM))
        except CoreIdentityRejected as exc:
            raise AnswerRejected(str(exc)) from None
        auth_time = id_token.get("auth_time")
        return UpstreamAnswer(
            upstream="one_login", issuer=trust.provider.issuer, subject=id_token["sub"],
            level=identity.level_of_assurance, matching_dataset=identity.dataset,
            auth_time=auth_time if type(auth_time) is int else None,
            issued_at=id_token["iat"],
            answer_ids=(hashlib.sha256(tokens["id_token"].encode()).hexdigest(),),
            remember_for=max(id_token["exp"] - int(self.clock()), 0)
            + self.config.clock_skew_seconds)

    def _session(self, token_endpoint: str, **kwargs: Any) -> OAuth2Session:
        """Authlib's client: `private_key_jwt` (RFC 7523, Authlib's `PrivateKeyJWT`) with the
        token endpoint as audience, a fresh `jti` and five minutes' life; One Login's answers
        pass `_json`'s checks (5xx, size, status) before Authlib reads them."""
        session = OAuth2Session(self.config.client_id, signing_key(self.config),
                                token_endpoint_auth_method="private_key_jwt", leeway=0,
                                default_timeout=(CONNECT_TIMEOUT, self.config.timeout_seconds),
                                **kwargs)
        now = int(self.clock())
        key = signing_key(self.config)
        session.register_client_auth_method(PrivateKeyJWT(
            token_endpoint, alg=self.config.client_assertion_alg, headers={"kid": key.kid},
            claims={"iat": now, "exp": now + ASSERTION_LIFETIME_SECONDS}))

        def checked(response: requests.Response) -> requests.Response:
            self._json(response, "token endpoint")
            return response

        session.register_compliance_hook("access_token_response", checked)
        return session

    def _json(self, response: requests.Response, what: str) -> dict[str, Any]:
        if response.status_code >= 500:
            raise OneLoginUnavailable(f"One Login's {what} answered {response.status_code}")
        if len(response.content) > MAX_DOCUMENT_BYTES:
            raise AnswerRejected(f"One Login's {what} answered with too much")
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else None
            raise AnswerRejected(f"One Login's {what} refused: {response.status_code} "
                                 f"{str(error)[:40] if error else ''}".rstrip()
                                 + (f" ({loggable(description)})" if description else ""))
        return body

    def _token_request(self, trust: PublishedTrust, code: str, redirect_uri: str) -> dict[str, Any]:
        endpoint = trust.provider.token_endpoint
        with self._session(endpoint, redirect_uri=redirect_uri) as session:
            try:
                return dict(session.fetch_token(endpoint, code=code))
            except OAuthError as exc:
                raise AnswerRejected(f"One Login's token endpoint refused: "
                                     f"{str(exc.error)[:40]}") from None
            except requests.RequestException as exc:
                raise OneLoginUnavailable(f"token request failed: {type(exc).__name__}") from None

    def _id_token(self, trust: PublishedTrust, value: Any, nonce: str
                  ) -> tuple[dict[str, Any], PublishedTrust]:
        """The ID token's verified claims, and the documents that verified it (fetched again
        when the token names a key `trust` lacks: One Login may have rotated)."""
        if not isinstance(value, str):
            raise AnswerRejected("the token response has no ID token")
        algorithms = list(trust.provider.id_token_signing_algs)
        try:
            try:
                claims = jwt.decode(value, trust.id_token_keys, algorithms=algorithms).claims
            except (JoseError, ValueError) as first:
                fresh = self.provider.refetch_for_unknown_key(trust)
                if fresh is None:
                    raise first
                trust = fresh
                claims = jwt.decode(value, trust.id_token_keys, algorithms=algorithms).claims
        except (JoseError, ValueError, TypeError) as exc:
            raise AnswerRejected(f"the ID token's signature does not verify: "
                                 f"{type(exc).__name__}") from None
        if not isinstance(claims, dict):
            raise AnswerRejected("the ID token's payload is not a JSON object")
        checks = IdTokenClaims(issuer=trust.provider.issuer, client_id=self.config.client_id,
                               nonce=nonce, now=int(self.clock()),
                               leeway=self.config.clock_skew_seconds)
        try:
            checks.validate(claims)
        except JoseError as exc:
            claim = getattr(exc, "claim", "exp" if isinstance(exc, ExpiredTokenError) else "")
            raise AnswerRejected(ID_TOKEN_REFUSALS.get(claim, f"the ID token is refused: "
                                                              f"{exc.description}")) from None
        if not str(claims.get("vot", "")).startswith("Cl.Cm"):
            raise AnswerRejected("the ID token's vot is below medium-level authentication")
        return claims, trust

    def _userinfo(self, trust: PublishedTrust, access_token: Any) -> dict[str, Any]:
        if not isinstance(access_token, str) or not access_token:
            raise AnswerRejected("the token response has no access token")
        token = {"access_token": access_token, "token_type": "Bearer"}
        with OAuth2Session(self.config.client_id, token=token, leeway=0, default_timeout=(
                CONNECT_TIMEOUT, self.config.timeout_seconds)) as session:
            try:
                response = session.get(trust.provider.userinfo_endpoint)
            except requests.RequestException as exc:
                raise OneLoginUnavailable(f"/userinfo failed: {type(exc).__name__}") from None
        return self._json(response, "/userinfo")

    def _core_identity_claims(self, trust: PublishedTrust, token: Any, sub: str
                              ) -> dict[str, Any]:
        check = {"identity_issuer": self.config.identity_issuer,
                 "client_id": self.config.client_id, "sub": sub, "now": int(self.clock()),
                 "leeway": self.config.clock_skew_seconds}
        try:
            try:
                return validate_core_identity(token, trust.did, **check)
            except DidDocumentError:
                fresh = self.provider.refetch_for_unknown_key(trust)  # the identity key rotated?
                if fresh is None:
                    raise
                return validate_core_identity(token, fresh.did, **check)
        except (CoreIdentityRejected, DidDocumentError) as exc:
            raise AnswerRejected(str(exc)) from None
