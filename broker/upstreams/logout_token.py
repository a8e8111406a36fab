"""Back-channel logout from an OpenID upstream (OpenID Connect Back-Channel Logout 1.0): one
endpoint body and one token reader for One Login and any OIDC4IDA provider, so both verify the
signature the same way (the provider's keys fetched again once when the token names a key they
do not hold: the first logout after a key rotation), check section 2.6 the same way, refuse with
the same words and remember a token's `jti` so it is believed once."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import jsonify, request
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

if TYPE_CHECKING:
    from broker.state import BrokerState
    from broker.upstreams.published_documents import PublishedDocuments

log = logging.getLogger(__name__)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_LOGOUT_TOKEN = 8192
LOGOUT_TOKEN_MAX_AGE_SECONDS = 300


class LogoutTokenClaims(JWTClaimsRegistry):
    """`iss` the provider's, `aud` the broker's client id, `iat` within the last five minutes,
    `exp` (if any) not past, the back-channel logout event, a `sub` and a `jti`, no `nonce`."""

    def __init__(self, *, issuer: str, client_id: str, now: int, leeway: int):
        super().__init__(now=now, leeway=leeway,
                         iss={"essential": True, "value": issuer},
                         aud={"essential": True, "value": client_id},
                         iat={"essential": True}, sub={"essential": True},
                         jti={"essential": True}, events={"essential": True})

    def validate_iat(self, value: object) -> None:
        super().validate_iat(value)
        if value < self.now - LOGOUT_TOKEN_MAX_AGE_SECONDS - self.leeway:
            raise InvalidClaimError("iat")

    def validate_events(self, value: object) -> None:
        if not isinstance(value, dict) or BACKCHANNEL_EVENT not in value:
            raise InvalidClaimError("events")

    def validate_nonce(self, value: object) -> None:
        raise InvalidClaimError("nonce")


REFUSALS = {
    "iss": "not from {provider}", "aud": "for another client",
    "iat": "iat is missing, too old or in the future", "exp": "expired",
    "events": "not a back-channel logout event", "nonce": "a logout token must not carry a nonce",
    "sub": "no sub", "jti": "no jti",
}


class LogoutTokenRejected(Exception):
    """Not a logout token from the provider for the broker; the message says why."""


def read_logout_token(token: Any, *, keys: KeySet, algorithms: list[str], issuer: str,
                      client_id: str, leeway: int, fresh_keys: Callable[[], KeySet | None],
                      provider_name: str = "the provider", now: float | None = None
                      ) -> dict[str, Any]:
    """The token's claims once its signature verifies with `keys` (or, when it does not, with
    `fresh_keys()`, the provider's documents fetched again, None when none can be had now) and
    its claims pass section 2.6; LogoutTokenRejected otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_LOGOUT_TOKEN:
        raise LogoutTokenRejected("no logout_token")
    try:
        try:
            claims = jwt.decode(token, keys, algorithms=algorithms).claims
        except (JoseError, ValueError) as first:
            fresh = fresh_keys()
            if fresh is None:
                raise first
            claims = jwt.decode(token, fresh, algorithms=algorithms).claims
    except (JoseError, ValueError, TypeError) as exc:
        raise LogoutTokenRejected(f"signature does not verify: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise LogoutTokenRejected("the payload is not a JSON object")
    checks = LogoutTokenClaims(issuer=issuer, client_id=client_id,
                               now=int(time.time() if now is None else now), leeway=leeway)
    try:
        checks.validate(claims)
    except JoseError as exc:
        claim = getattr(exc, "claim", "exp" if isinstance(exc, ExpiredTokenError) else "")
        refusal = REFUSALS.get(claim, exc.description or exc.error)
        raise LogoutTokenRejected(refusal.replace("{provider}", provider_name)) from None
    return claims


def read_published_logout_token(token: Any, documents: PublishedDocuments | None, trust: Any, *,
                                client_id: str, leeway: int, now: float | None = None
                                ) -> dict[str, Any]:
    """`read_logout_token` with the keys of `trust`, the provider's documents in hand; when
    `documents` is given, they are fetched again once for a key `trust` lacks."""
    def fresh_keys() -> KeySet | None:
        fresh = documents.refetch_for_unknown_key(trust) if documents is not None else None
        return fresh.id_token_keys if fresh is not None else None

    return read_logout_token(
        token, keys=trust.id_token_keys, algorithms=list(trust.provider.id_token_signing_algs),
        issuer=trust.provider.issuer, client_id=client_id, leeway=leeway, fresh_keys=fresh_keys,
        provider_name=documents.called if documents is not None else "the provider", now=now)


def answer_backchannel_logout(documents: PublishedDocuments, *, client_id: str, leeway: int,
                              state: BrokerState | None, replay_kind: str,
                              subject: Callable[[str, str], str],
                              end_sessions: Callable[[str], int]):
    """The endpoint's answer to the provider's POST (section 2.5): the resident's broker
    sessions from this provider end (`end_sessions` of `subject(issuer, sub)`, the journey's)
    and their council apps are told. Errors are 400 `invalid_request` (section 2.8), 503 while
    the provider's documents cannot be had."""
    headers = {"Cache-Control": "no-store"}
    try:
        trust = documents.current()
    except documents.unavailable:
        return jsonify(error="temporarily_unavailable"), 503, headers
    try:
        claims = read_published_logout_token(request.form.get("logout_token"), documents, trust,
                                             client_id=client_id, leeway=leeway)
    except LogoutTokenRejected as exc:
        log.warning("%s logout token rejected: %s", documents.what, exc)
        return jsonify(error="invalid_request", error_description=str(exc)), 400, headers
    if state is None or not state.first_sighting(replay_kind, claims["jti"],
                                                 LOGOUT_TOKEN_MAX_AGE_SECONDS * 2):
        return jsonify(error="invalid_request", error_description="replayed"), 400, headers
    ended = end_sessions(subject(trust.provider.issuer, claims["sub"]))
    log.info("%s back-channel logout: %d broker session(s) ended", documents.what, ended)
    return "", 200, headers
