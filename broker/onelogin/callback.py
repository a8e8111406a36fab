"""One Login's answer at the broker's redirect URI, turned into a `VerifiedIdentity` or a failure.

For a code: the token request with `private_key_jwt`, the ID token checked (signature against
One Login's JWKS, `iss`, `aud`, `nonce`, `exp`, `iat`), /userinfo for the same `sub`, and the
core identity JWT checked against the DID document (broker.onelogin.core_identity). For an error:
the same resident pages and OIDC errors as the Verify hub's statuses.

The subject is pairwise per council exactly as Verify's hashed PID is (broker.pairwise): One Login's
`sub` in place of the NameID and One Login's issuer in place of the identity provider, so the
same resident has unlinkable identifiers at different councils, stable across restarts and key
rotation (no key is involved).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from joserfc import jwt
from joserfc.errors import JoseError

from broker.config import OneLoginConfig
from broker.identity import LevelOfAssurance, VerifiedIdentity
from broker.onelogin.authorization import (
    ADDRESS_CLAIM,
    CORE_IDENTITY_CLAIM,
    RETURN_CODE_CLAIM,
    AuthenticationRequest,
    build_authentication_request,
)
from broker.onelogin.client_auth import ASSERTION_TYPE, client_assertion
from broker.onelogin.core_identity import CoreIdentityRejected, core_identity, validate_core_identity
from broker.onelogin.did import DidDocumentError
from broker.onelogin.provider import (
    CONNECT_TIMEOUT,
    MAX_DOCUMENT_BYTES,
    OneLoginProvider,
    OneLoginUnavailable,
    PublishedTrust,
)
from broker.pairwise import hash_pid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OneLoginFailure:
    """No verified identity: `page` is the resident page, `oidc_error` what the council app gets."""

    page: str
    oidc_error: str
    detail: str


class AnswerRejected(Exception):
    """One Login's answer cannot be trusted for this flow; it never becomes a sign-in."""


# One Login's authorization errors (OIDC Core 3.1.2.6) → the page and error the hub's statuses use.
ERRORS = {
    "access_denied": ("authn-failed", "access_denied"),
    "login_required": ("no-passive", "login_required"),
    "temporarily_unavailable": ("hub-error", "temporarily_unavailable"),
    "server_error": ("hub-error", "temporarily_unavailable"),
}


def failure_for_error(error: str, description: str | None = None) -> OneLoginFailure:
    """One Login's `error_description` says what it refused (an unregistered `vtr`, a scope),
    never who the resident is: it goes to the log, shortened and printable."""
    page, oidc_error = ERRORS.get(error, ("hub-error", "temporarily_unavailable"))
    detail = f"One Login answered {error[:40]!r}"
    if description:
        detail += f" ({loggable(description)})"
    return OneLoginFailure(page, oidc_error, detail)


def loggable(text: str, limit: int = 200) -> str:
    return repr("".join(c for c in str(text)[:limit] if c.isprintable()))


@dataclass(frozen=True)
class ExpectedAnswer:
    """What the flow asked One Login for."""

    nonce: str
    minimum_level: LevelOfAssurance
    council_entity_id: str
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

    def redeem(self, code: str, expected: ExpectedAnswer) -> VerifiedIdentity | OneLoginFailure:
        """Raises AnswerRejected (untrustworthy answer) or OneLoginUnavailable (cannot ask)."""
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
            return OneLoginFailure("authn-failed", "access_denied", "identity not proven")
        claims = self._core_identity_claims(trust, token, id_token["sub"])
        try:
            identity = core_identity(claims, userinfo.get(ADDRESS_CLAIM))
        except CoreIdentityRejected as exc:
            raise AnswerRejected(str(exc)) from None
        if identity.level_of_assurance.value < expected.minimum_level.value:
            return OneLoginFailure("level-not-met", "access_denied",
                                   f"vot gives {identity.level_of_assurance.name}")
        issuer = trust.provider.issuer
        auth_time = id_token.get("auth_time")
        return VerifiedIdentity(
            hashed_pid=hash_pid(issuer, expected.council_entity_id, id_token["sub"],
                                identity.level_of_assurance),
            level_of_assurance=identity.level_of_assurance, matching_dataset=identity.dataset,
            issuer=issuer,
            authenticated_at=auth_time if isinstance(auth_time, int) else id_token["iat"],
            persistent_id=id_token["sub"])

    def _post_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = requests.post(url, timeout=(CONNECT_TIMEOUT, self.config.timeout_seconds),
                                     **kwargs)
        except requests.RequestException as exc:
            raise OneLoginUnavailable(f"token request failed: {type(exc).__name__}") from None
        return self._json(response, "token endpoint")

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
        return self._post_json(endpoint, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(self.config, endpoint, self.clock()),
        })

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
        now, leeway = int(self.clock()), self.config.clock_skew_seconds
        audience = claims.get("aud")
        if claims.get("iss") != trust.provider.issuer:
            raise AnswerRejected("the ID token is not from One Login")
        if audience != self.config.client_id and not (
                isinstance(audience, list) and self.config.client_id in audience
                and claims.get("azp") in (None, self.config.client_id)):
            raise AnswerRejected("the ID token is for another client")
        if claims.get("nonce") != nonce:
            raise AnswerRejected("the ID token's nonce is not this flow's")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now - leeway:
            raise AnswerRejected("the ID token has expired")
        if not isinstance(claims.get("iat"), int) or claims["iat"] > now + leeway:
            raise AnswerRejected("the ID token is issued in the future")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise AnswerRejected("the ID token has no sub")
        if not str(claims.get("vot", "")).startswith("Cl.Cm"):
            raise AnswerRejected("the ID token's vot is below medium-level authentication")
        return claims, trust

    def _userinfo(self, trust: PublishedTrust, access_token: Any) -> dict[str, Any]:
        if not isinstance(access_token, str) or not access_token:
            raise AnswerRejected("the token response has no access token")
        try:
            response = requests.get(trust.provider.userinfo_endpoint,
                                    headers={"Authorization": f"Bearer {access_token}"},
                                    timeout=(CONNECT_TIMEOUT, self.config.timeout_seconds))
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
