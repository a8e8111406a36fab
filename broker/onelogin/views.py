"""The One Login leg of the sign-in journey: the hand-off from /authorize and the redirect URI.

This is the journey hook for the One Login upstream, kept apart so that it plugs into the journey
module with two calls: `hand_off(...)` where /authorize would build the hub's AuthnRequest, and
the callback below handing its `VerifiedIdentity` to `match_then_complete`, as the SAML assertion
consumer service does. The flow id is One Login's `state`, taken from Redis once (a replayed
callback or authorization code finds nothing); the flow is bound to the browser that started it
by a cookie, so an answer delivered to another browser (login CSRF) completes nothing.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from flask import Blueprint, current_app, g, jsonify, request

from broker.identity import Flow, LevelOfAssurance
from broker.observability import HUB_STATUSES, SIGNINS_FAILED, SIGNINS_STARTED, audit, set_flow
from broker.onelogin.authorization import LevelNotOffered, build_authentication_request
from broker.onelogin.callback import (
    AnswerRejected,
    ExpectedAnswer,
    OneLoginFailure,
    failure_for_error,
)
from broker.onelogin.client_auth import public_jwks
from broker.onelogin.logout import (
    MAX_AGE_SECONDS,
    LogoutTokenRejected,
    read_logout_token,
    upstream_subject,
)
from broker.onelogin.provider import OneLoginUnavailable
from broker.web.pages import render_page

log = logging.getLogger(__name__)
bp = Blueprint("onelogin", __name__)

BROWSER_COOKIE = "broker_onelogin"
MAX_STATE_LENGTH = 128
MAX_CODE_LENGTH = 512


def _broker():
    return current_app.extensions["broker"]


def hand_off(flow: Flow, minimum: LevelOfAssurance, force_login: bool, service_name: str):
    """Saves the flow and sends the resident to One Login (instead of the hub's POST form)."""
    from broker.signin import oidc_error_url

    broker = _broker()
    try:
        trust = broker.one_login.provider.current()
    except OneLoginUnavailable:
        return render_page("unavailable", continue_url=oidc_error_url(
            flow.authorize_params, "temporarily_unavailable", "the identity service is unavailable"),
            service_name=service_name)
    try:
        authn = build_authentication_request(
            broker.config.one_login, trust.provider.authorization_endpoint,
            broker.config.one_login_redirect_uri, flow.id, minimum, flow.ui_locale, force_login)
    except LevelNotOffered:
        return render_page("level-not-met", continue_url=oidc_error_url(
            flow.authorize_params, "access_denied", "no identity confidence for this level"),
            service_name=service_name)
    browser = request.cookies.get(BROWSER_COOKIE, "")
    if not 20 <= len(browser) <= 64:
        browser = secrets.token_urlsafe(24)
    flow.extra.update({"one_login_nonce": authn.nonce, "browser": browser})
    broker.state.save_flow(flow, ttl=broker.config.oidc.flow_ttl_seconds)
    set_flow(flow.id)
    client = broker.clients.get(flow.client_id)
    SIGNINS_STARTED.labels(client.config.council).inc()
    log.info("sign-in started at One Login: flow %s client %s level %s", flow.id[:8],
             flow.client_id, minimum.name)
    response = current_app.response_class("", 302, {"Location": authn.url,
                                                    "Cache-Control": "no-store"})
    response.set_cookie(BROWSER_COOKIE, browser, max_age=broker.config.oidc.flow_ttl_seconds,
                        secure=broker.config.issuer.startswith("https://"), httponly=True,
                        samesite="Lax", path="/onelogin/")
    return response


@bp.get("/onelogin/callback")
def callback():
    """One Login's redirect with `code` and `state`, or `error` (OIDC Core 3.1.2.5 and 3.1.2.6)."""
    from broker.matching.views import match_then_complete
    from broker.signin import complete_sign_in, oidc_error_url

    broker = _broker()
    state = request.args.get("state", "")
    if not state or len(state) > MAX_STATE_LENGTH or broker.config.upstream != "one_login":
        return render_page("session-expired")
    flow = broker.state.take_flow(state)
    if flow is None or "one_login_nonce" not in flow.extra:
        log.info("One Login callback: unknown or used state")
        SIGNINS_FAILED.labels("unknown", "session-expired").inc()
        return render_page("session-expired")
    set_flow(flow.id)
    g.ui_locale = flow.ui_locale
    client = broker.clients.get(flow.client_id)
    council = broker.config.councils[client.config.council]

    def failure_page(name: str, error: str, description: str):
        SIGNINS_FAILED.labels(council.id, name).inc()
        audit("signin.failed", council=council.id, client=client.client_id, reason=name)
        return render_page(name, continue_url=oidc_error_url(flow.authorize_params, error,
                                                             description),
                           service_name=client.config.name)

    if not hmac.compare_digest(request.cookies.get(BROWSER_COOKIE, ""), flow.extra["browser"]):
        log.warning("One Login callback from a browser that did not start flow %s", flow.id[:8])
        return render_page("session-expired")
    if request.args.get("error"):
        failure = failure_for_error(request.args["error"])
        HUB_STATUSES.labels(failure.page).inc()
        log.info("sign-in failed at One Login: flow %s: %s", flow.id[:8], failure.detail)
        return failure_page(failure.page, failure.oidc_error, failure.page)
    code = request.args.get("code", "")
    if not code or len(code) > MAX_CODE_LENGTH:
        return failure_page("rejected", "access_denied", "the identity service's answer is malformed")
    expected = ExpectedAnswer(nonce=flow.extra["one_login_nonce"], minimum_level=flow.minimum_level,
                              council_entity_id=council.entity_id,
                              redirect_uri=broker.config.one_login_redirect_uri)
    try:
        result = broker.one_login.redeem(code, expected)
    except OneLoginUnavailable as exc:
        log.error("One Login unavailable: flow %s: %s", flow.id[:8], exc)
        return failure_page("hub-error", "temporarily_unavailable",
                            "the identity service is unavailable")
    except AnswerRejected as exc:
        HUB_STATUSES.labels("rejected").inc()
        log.warning("One Login answer rejected: flow %s: %s", flow.id[:8], exc)
        return failure_page("rejected", "access_denied",
                            "the identity service's answer could not be verified")
    if isinstance(result, OneLoginFailure):
        HUB_STATUSES.labels(result.page).inc()
        log.info("sign-in failed at One Login: flow %s: %s", flow.id[:8], result.detail)
        return failure_page(result.page, result.oidc_error, result.page)
    HUB_STATUSES.labels("success").inc()
    return match_then_complete(flow, result, complete_sign_in)  # cycle 0/1/3, account creation


@bp.post("/onelogin/backchannel-logout")
def backchannel_logout():
    """One Login's logout_token (Back-Channel Logout 1.0 section 2.5): end that resident's broker
    sessions and tell their council apps. Errors are 400 `invalid_request` (section 2.8)."""
    from broker.oidc.logout import notify_council_apps

    broker = _broker()
    headers = {"Cache-Control": "no-store"}
    if broker.one_login is None:
        return jsonify(error="invalid_request"), 400, headers
    try:
        trust = broker.one_login.provider.current()
    except OneLoginUnavailable:
        return jsonify(error="temporarily_unavailable"), 503, headers
    config = broker.config.one_login
    try:
        claims = read_logout_token(request.form.get("logout_token"), trust, config.client_id,
                                   config.clock_skew_seconds)
    except LogoutTokenRejected as exc:
        log.warning("One Login logout token rejected: %s", exc)
        return jsonify(error="invalid_request", error_description=str(exc)), 400, headers
    if not broker.state.first_sighting("onelogin-logout", claims["jti"], MAX_AGE_SECONDS * 2):
        return jsonify(error="invalid_request", error_description="replayed"), 400, headers
    ended = 0
    for session_id in broker.state.take_upstream_sessions(
            upstream_subject(trust.provider.issuer, claims["sub"])):
        session = broker.sessions.end(session_id)
        if session is not None:
            ended += 1
            notify_council_apps(broker, session)
    audit("signout.upstream", upstream="one_login", sessions=ended)
    log.info("One Login back-channel logout: %d broker session(s) ended", ended)
    return "", 200, headers


@bp.get("/onelogin/jwks.json")
def jwks():
    """The public keys of the broker's private_key_jwt, for One Login's registration."""
    config = _broker().config.one_login
    if config is None:
        return render_page("not-found")
    response = jsonify(public_jwks(config))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
