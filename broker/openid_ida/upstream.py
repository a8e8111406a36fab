"""The OpenID Connect for Identity Assurance provider as a plug-in of the one journey.

It hands a flow off with a redirect (`state` the flow id; the nonce and PKCE verifier in the
flow's typed `openid` field), registers the redirect URI `/openid-ida/callback` and the JWKS of
its `private_key_jwt` keys at `/openid-ida/jwks.json`, and turns the provider's answer into an
`UpstreamAnswer` or one `UpstreamFailure`. The level, `auth_time` against `max_age`, freshness,
replay and the browser binding are the journey's checks, done once for every upstream.

Authorization errors (OpenID Connect Core 3.1.2.6) map to failure kinds: `access_denied` is the
resident stopping (cancelled), `login_required`/`interaction_required` the prompt=none answer,
`temporarily_unavailable`/`server_error` unavailable; the operator may map the provider's own
codes (`openid_ida.errors`, say `fraud_detected: fraud`); anything else is unavailable. A
resident authenticated without `verified_claims` that the level mapping recognises is an
identity not proven.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, jsonify, request
from joserfc.jwk import ECKey, RSAKey

from broker.config import BrokerConfig, OpenIdIdaConfig
from broker.identity import Flow, LevelOfAssurance, VerifiedIdentity
from broker.openid_ida.logout import upstream_subject
from broker.openid_ida.provider import OpenIdProvider, ProviderUnavailable
from broker.openid_ida.relying_party import AnswerRejected, LevelNotOffered, RelyingParty
from broker.openid_ida.verified_claims import VerifiedClaimsRejected, read_verified_claims
from broker.upstreams.interface import (
    ConfigProblem,
    FailureKind,
    HandOff,
    Journey,
    Upstream,
    UpstreamAnswer,
    UpstreamFailure,
)
from broker.upstreams.logout_token import answer_backchannel_logout

if TYPE_CHECKING:
    from flask import Flask

    from broker.state import BrokerState

log = logging.getLogger(__name__)

CALLBACK_PATH = "/openid-ida/callback"
JWKS_PATH = "/openid-ida/jwks.json"
LOGOUT_PATH = "/openid-ida/backchannel-logout"
MAX_STATE_LENGTH = 128
MAX_CODE_LENGTH = 2048

STANDARD_ERRORS = {
    "access_denied": FailureKind.CANCELLED,
    "login_required": FailureKind.LOGIN_REQUIRED,
    "interaction_required": FailureKind.LOGIN_REQUIRED,
    "temporarily_unavailable": FailureKind.UNAVAILABLE,
    "server_error": FailureKind.UNAVAILABLE,
}


def public_jwks(config: OpenIdIdaConfig) -> dict[str, Any]:
    keys = []
    for signing_key in config.signing_keys:
        jwk = signing_key.jwk
        key = (ECKey if jwk["kty"] == "EC" else RSAKey).import_key(dict(jwk))
        public = key.as_dict(private=False)
        public.update({"use": "sig", "alg": config.client_assertion_alg})
        if key.kid:
            public["kid"] = key.kid
        keys.append(public)
    return {"keys": keys}


class OpenIdIdaUpstream(Upstream):
    name = "openid_ida"

    def __init__(self, config: BrokerConfig, state: BrokerState | None = None, clock=time.time):
        assert config.openid_ida is not None  # the configuration requires the section for this kind
        self.config = config.openid_ida
        self.state = state
        self.provider = OpenIdProvider(self.config, clock=clock)
        self.relying_party = RelyingParty(self.config, self.provider,
                                          f"{config.issuer}{CALLBACK_PATH}", clock=clock)
        self.clock = clock
        self.errors = {**STANDARD_ERRORS,
                       **{code: FailureKind(kind) for code, kind in self.config.errors}}

    @property
    def clock_skew_seconds(self) -> int:
        return self.config.clock_skew_seconds

    def hand_off(self, flow: Flow, *, force_login: bool) -> HandOff:
        try:
            authn = self.relying_party.authentication_request(
                flow.id, flow.minimum_level, flow.ui_locale, force_login)
        except ProviderUnavailable as exc:
            raise UpstreamFailure(FailureKind.UNAVAILABLE, f"discovery: {exc}") from None
        except LevelNotOffered as exc:
            raise UpstreamFailure(FailureKind.NOT_PROVEN, str(exc)) from None
        log.info("sign-in handed to the OpenID provider: flow %s level %s", flow.id[:8],
                 flow.minimum_level.name)
        return HandOff(replace(flow, openid=authn.request),
                       ("", 302, {"Location": authn.url, "Cache-Control": "no-store"}))

    def answer(self, flow: Flow, args: dict[str, str]) -> UpstreamAnswer | UpstreamFailure:
        """The provider's authorization response for `flow`, checked and read."""
        if args.get("error"):
            error = args["error"][:64]
            kind = self.errors.get(error, FailureKind.UNAVAILABLE)
            return UpstreamFailure(kind, f"the provider answered {error!r}")
        code = args.get("code", "")
        if not code or len(code) > MAX_CODE_LENGTH or flow.openid is None:
            return UpstreamFailure(FailureKind.REJECTED, "no usable code for this flow")
        try:
            mixed_up = self._another_issuer(args.get("iss", ""))
        except ProviderUnavailable as exc:
            return UpstreamFailure(FailureKind.UNAVAILABLE, str(exc))
        if mixed_up:
            return UpstreamFailure(FailureKind.REJECTED, mixed_up)
        try:
            answer = self.relying_party.redeem(code, flow.openid)
        except ProviderUnavailable as exc:
            return UpstreamFailure(FailureKind.UNAVAILABLE, str(exc))
        except AnswerRejected as exc:
            return UpstreamFailure(FailureKind.REJECTED, str(exc))
        try:
            proven = read_verified_claims(answer.verified_claims, self.config.levels)
        except VerifiedClaimsRejected as exc:
            return UpstreamFailure(FailureKind.REJECTED, str(exc))
        if proven is None:
            return UpstreamFailure(FailureKind.NOT_PROVEN, "no verified_claims under a trust "
                                   "framework the level mapping names")
        id_token = answer.id_token
        auth_time = id_token.get("auth_time")
        remember = max(int(id_token["exp"]) - int(self.clock()), 0) + self.clock_skew_seconds
        return UpstreamAnswer(
            upstream=self.name, issuer=answer.issuer, subject=id_token["sub"],
            level=proven.level, matching_dataset=proven.dataset,
            auth_time=auth_time if isinstance(auth_time, int) else None,
            issued_at=int(id_token["iat"]),
            answer_ids=(hashlib.sha256(answer.raw_id_token.encode()).hexdigest(),),
            remember_for=remember)

    def _another_issuer(self, iss: str) -> str | None:
        """RFC 9207: the authorization response's `iss`, when the provider sends it (or says it
        does), must be this provider: a code from another server is never redeemed here."""
        provider = self.provider.current().provider
        if iss and iss != provider.issuer:
            return "the authorization response is from another issuer"
        if not iss and provider.document.get("authorization_response_iss_parameter_supported"):
            return "the authorization response lacks the iss the provider promises"
        return None

    def register(self, app: Flask, journey: Journey) -> None:
        bp = Blueprint("openid_ida", __name__)
        upstream = self

        @bp.get(CALLBACK_PATH)
        def callback():
            """The provider's top-level redirect back: it brings the binding cookie, so the
            journey checks the browser before the code is redeemed."""
            state = request.args.get("state", "")
            flow = journey.take_flow(upstream, state[:MAX_STATE_LENGTH])
            result = upstream.answer(flow, {key: request.args.get(key, "")
                                            for key in ("error", "code", "iss")})
            return journey.answered(upstream, flow, result)

        @bp.get(JWKS_PATH)
        def jwks():
            """The public keys of the broker's private_key_jwt, for the provider's registration."""
            response = jsonify(public_jwks(upstream.config))
            response.headers["Cache-Control"] = "public, max-age=3600"
            return response

        @bp.post(LOGOUT_PATH)
        def backchannel_logout():
            """The provider's logout_token: the resident's broker sessions from this provider
            end and their council apps are told."""
            return answer_backchannel_logout(
                upstream.provider, client_id=upstream.config.client_id,
                leeway=upstream.clock_skew_seconds, state=upstream.state,
                replay_kind="openid-ida-logout", subject=upstream_subject,
                end_sessions=lambda subject: journey.end_sessions(upstream, subject))

        app.register_blueprint(bp)

    def readiness(self) -> dict[str, dict[str, Any]]:
        return {"openid_ida": self.provider.status()}

    def configuration_problems(self, *, offline: bool, now: datetime) -> Iterator[ConfigProblem]:
        """Offline: nothing beyond what loading checked. Online: the discovery document and JWKS
        are usable, and the provider offers what this configuration needs (OIDC4IDA section 7,
        Discovery 1.0)."""
        if offline:
            return
        source_log = logging.getLogger("broker.openid_ida.provider")
        was_disabled, source_log.disabled = source_log.disabled, True  # it would repeat our line
        try:
            document = OpenIdProvider(self.config).refresh().provider.document
        except ProviderUnavailable as exc:
            yield ConfigProblem("openid_ida.issuer", f"the provider's discovery document or "
                                f"JWKS is not usable: {exc}")
            return
        finally:
            source_log.disabled = was_disabled
        yield from discovery_problems(self.config, document)

    def logout_subject(self, identity: VerifiedIdentity) -> str | None:
        """The provider's logout token names the resident by its issuer and `sub` (hashed)."""
        trust = self.provider.last_good()
        if not identity.persistent_id or trust is None or identity.issuer != trust.provider.issuer:
            return None
        return upstream_subject(identity.issuer, identity.persistent_id)


def discovery_problems(config: OpenIdIdaConfig, document: dict[str, Any]) -> Iterator[ConfigProblem]:
    def offered(key: str) -> list[Any] | None:
        value = document.get(key)
        return value if isinstance(value, list) else None

    methods = offered("code_challenge_methods_supported")
    if methods is not None and "S256" not in methods:
        yield ConfigProblem("openid_ida.issuer", "the provider does not offer PKCE S256")
    auth = offered("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if config.client_auth not in auth:
        yield ConfigProblem("openid_ida.client_auth", f"the provider does not offer "
                            f"{config.client_auth} (it offers {', '.join(map(str, auth))})")
    if document.get("claims_parameter_supported") is not True:
        yield ConfigProblem("openid_ida.issuer", "the provider does not support the claims "
                            "parameter, through which verified_claims are asked for")
    frameworks = offered("trust_frameworks_supported")
    if frameworks is None:
        yield ConfigProblem("openid_ida.issuer", "the provider publishes no "
                            "trust_frameworks_supported: it may not speak OIDC4IDA")
    else:
        for i, rule in enumerate(config.levels):
            if rule.trust_framework not in frameworks:
                yield ConfigProblem(f"openid_ida.levels[{i}].trust_framework",
                                    f"the provider does not offer {rule.trust_framework!r}",
                                    severity="warning")
    claims = offered("claims_in_verified_claims_supported")
    if claims is not None:
        for claim in config.claims:
            if claim not in claims:
                yield ConfigProblem("openid_ida.claims", f"the provider does not verify "
                                    f"{claim!r}", severity="warning")
    if not any(rule.level.value >= LevelOfAssurance.LEVEL_2.value for rule in config.levels):
        yield ConfigProblem("openid_ida.levels", "no rule reaches LEVEL_2, the level councils "
                            "usually ask for", severity="warning")
