"""The sign-in journey: council app → /authorize → hub → assertion consumer service → code.

This is the one place that knows both protocols; it hands the hub side's `VerifiedIdentity`
to the OIDC side as a `SignedInResident`, so neither side imports the other.
"""

from __future__ import annotations

import logging
import secrets
import time
from functools import partial

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from flask import Blueprint, current_app, g, request

from broker.hub.metadata import MetadataError
from broker.hub.requests import build_authn_request
from broker.hub.responses import HubFailure, ResponseRejected, read_response
from broker.identity import Flow, LevelOfAssurance, VerifiedIdentity
from broker.observability import (
    HUB_STATUSES,
    SIGNINS_COMPLETED,
    SIGNINS_FAILED,
    SIGNINS_STARTED,
    audit,
    set_flow,
)
from broker.oidc.claims import signed_in_resident
from broker.oidc.server import StoredAuthorizationRequest
from broker.oidc.sessions import COOKIE_NAME as SESSION_COOKIE
from broker.oidc.sessions import BrokerSession
from broker.web.design import current_language, language_switch_url
from broker.web.i18n import ui_locale_from
from broker.web.page_cache import render_with_holes
from broker.web.pages import render_page

log = logging.getLogger(__name__)
bp = Blueprint("signin", __name__)

MAX_PARAM_LENGTH = 4096
MAX_PARAMS = 40
NONCE_MAX_LENGTH = 255


def _broker():
    return current_app.extensions["broker"]


def oidc_error_url(params: dict[str, str], error: str, description: str) -> str:
    """The authorization error response (RFC 6749 4.1.2.1) with `iss` (RFC 9207)."""
    query = [("error", error), ("error_description", description)]
    if params.get("state"):
        query.append(("state", params["state"]))
    query.append(("iss", _broker().config.issuer))
    return add_params_to_uri(params["redirect_uri"], query)


def _minimum_level(acr_values: str | None, default: LevelOfAssurance) -> LevelOfAssurance:
    requested = []
    for value in (acr_values or "").split():
        try:
            requested.append(LevelOfAssurance.from_uri(value))
        except ValueError:
            continue
    return min(requested, key=lambda level: level.value) if requested else default


def _authorize_params() -> dict[str, str]:
    return {key: request.values.get(key, "") for key in request.values}


def _max_age(params: dict[str, str]) -> int | None:
    if not params.get("max_age"):
        return None
    if not params["max_age"].isdigit():
        raise InvalidRequestError("'max_age' must be a non-negative integer")
    return int(params["max_age"])


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    broker = _broker()
    params = _authorize_params()
    if len(params) > MAX_PARAMS or any(len(value) > MAX_PARAM_LENGTH for value in params.values()):
        return render_page("invalid-request", status=400)
    client = broker.clients.get(params.get("client_id"))
    if client is None:
        log.info("authorize: unknown client")
        return render_page("invalid-request")
    if params.get("request_uri"):
        pushed = broker.state.take_pushed_request(params["request_uri"])
        if pushed is None or pushed["client_id"] != client.client_id:
            log.info("authorize: unknown, used or expired request_uri for client %s", client.client_id)
            return render_page("invalid-request")
        params = pushed["params"]
    if not client.check_redirect_uri(params.get("redirect_uri", "")):
        log.info("authorize: unregistered redirect_uri for client %s", client.client_id)
        return render_page("invalid-request")

    now = time.time()
    session = broker.sessions.load(request.cookies.get(SESSION_COOKIE), now)
    oauth_request = StoredAuthorizationRequest(f"{broker.config.issuer}/authorize", params)
    try:
        if client.config.require_pushed_authorization_requests and not request.values.get(
                "request_uri"):
            raise InvalidRequestError("this client must use pushed authorization requests")
        if len(params.get("nonce", "")) > NONCE_MAX_LENGTH:
            raise InvalidRequestError("'nonce' is longer than 255 characters")
        max_age = _max_age(params)
        minimum = _minimum_level(params.get("acr_values"), client.config.default_level)
        prompt = params.get("prompt", "").split()
        reusable = (session is not None and "login" not in prompt
                    and session.satisfies(minimum, max_age, now))
        broker.authorization_server.get_consent_grant(
            oauth_request, end_user=session if reusable else None)
    except OAuth2Error as error:
        error_code = error.error or "invalid_request"
        return _redirect(oidc_error_url(params, error_code, error.description or error_code))

    ui_locale = g.ui_locale = ui_locale_from(params.get("ui_locales"))

    def new_flow(authn_request_id: str) -> Flow:
        return Flow(id=secrets.token_urlsafe(32), client_id=client.client_id,
                    authorize_params=params, authn_request_id=authn_request_id,
                    minimum_level=minimum, created_at=int(now), ui_locale=ui_locale)

    if reusable:
        flow = new_flow(authn_request_id="")
        council = broker.config.councils[client.config.council]
        set_flow(flow.id)
        SIGNINS_STARTED.labels(client.config.council).inc()
        log.info("sign-in from the broker session: flow %s client %s", flow.id[:8], client.client_id)
        from broker.matching.views import match_then_complete

        return match_then_complete(flow, session.identity_for(council.pid_hashing_entity_id),
                                   partial(complete_sign_in, session=session))

    try:
        hub = broker.hub_metadata.current()
    except MetadataError:
        return render_page("unavailable", continue_url=oidc_error_url(
            params, "temporarily_unavailable", "the identity hub is unavailable"),
            service_name=client.config.name)
    authn = build_authn_request(broker.config.saml, hub, minimum,
                                force_authn="login" in prompt or max_age is not None)
    flow = new_flow(authn_request_id=authn.id)
    broker.state.save_flow(flow, ttl=broker.config.oidc.flow_ttl_seconds)
    set_flow(flow.id)
    SIGNINS_STARTED.labels(client.config.council).inc()
    log.info("sign-in started: flow %s client %s level %s", flow.id[:8], client.client_id,
             minimum.name)
    page = render_with_holes(
        "hub_handoff.html", current_language(), destination=authn.destination,
        saml_request=authn.encoded, relay_state=flow.id, csp_nonce=g.get("csp_nonce", ""),
        language_switch_url=language_switch_url(("signin.authorize",)))
    return page, 200, {"Cache-Control": "no-store"}


def _redirect(url: str):
    return "", 302, {"Location": url, "Cache-Control": "no-store"}


@bp.post("/saml/acs")
def assertion_consumer_service():
    broker = _broker()
    relay_state = request.form.get("RelayState", "")
    saml_response = request.form.get("SAMLResponse", "")
    if not relay_state or not saml_response or len(relay_state) > 128:
        return render_page("session-expired")
    flow = broker.state.take_flow(relay_state)
    if flow is None:
        log.info("assertion consumer service: unknown or used RelayState")
        SIGNINS_FAILED.labels("unknown", "session-expired").inc()
        return render_page("session-expired")
    set_flow(flow.id)
    g.ui_locale = flow.ui_locale  # the hub's cross-site POST brings no language: the flow does
    client = broker.clients.get(flow.client_id)
    council = broker.config.councils[client.config.council]
    params = flow.authorize_params

    def failure_page(name: str, error: str, description: str):
        SIGNINS_FAILED.labels(council.id, name).inc()
        audit("signin.failed", council=council.id, client=client.client_id, reason=name)
        return render_page(name, continue_url=oidc_error_url(params, error, description),
                           service_name=client.config.name)

    try:
        hub = broker.hub_metadata.current()
    except MetadataError:
        return failure_page("unavailable", "temporarily_unavailable",
                            "the identity hub is unavailable")
    try:
        result = read_response(saml_response, flow, broker.config, hub, broker.state,
                               council.pid_hashing_entity_id)
    except ResponseRejected as exc:
        HUB_STATUSES.labels("rejected").inc()
        log.warning("hub response rejected: flow %s: %s", flow.id[:8], exc)
        return failure_page("rejected", "access_denied",
                            "the identity hub's answer could not be verified")
    HUB_STATUSES.labels(result.reason.value if isinstance(result, HubFailure) else "success").inc()
    if isinstance(result, HubFailure):
        log.info("sign-in failed at the hub: flow %s reason %s (%s)", flow.id[:8],
                 result.reason.value, result.detail)
        return failure_page(result.reason.value, result.oidc_error, result.reason.value)

    from broker.matching.views import match_then_complete

    return match_then_complete(flow, result, complete_sign_in)  # cycle 0/1/3, account creation


def complete_sign_in(flow: Flow, identity: VerifiedIdentity, session: BrokerSession | None = None,
                     local_account_id: str | None = None):
    """Issues the code for a verified (and matched) resident, within a broker session."""
    broker = _broker()
    client = broker.clients.get(flow.client_id)
    params = flow.authorize_params
    started = session is None
    if session is None:
        session = broker.sessions.new(identity)
    resident = signed_in_resident(identity, sid=session.sid,
                                  trust_framework=broker.config.oidc.trust_framework,
                                  local_account_id=local_account_id)
    server = broker.authorization_server
    oauth_request = StoredAuthorizationRequest(f"{broker.config.issuer}/authorize", params)
    try:
        grant = server.get_consent_grant(oauth_request, end_user=resident)
    except OAuth2Error as error:
        return render_page("invalid-request", continue_url=oidc_error_url(
            params, error.error or "invalid_request", error.description or "invalid request"),
            service_name=client.config.name)
    session.clients[client.client_id] = resident.sub
    with broker.state.batched_writes():  # the session and the code: one round trip
        broker.sessions.save(session)
        response = server.create_authorization_response(oauth_request, grant_user=resident,
                                                        grant=grant)
    log.info("sign-in completed: flow %s client %s level %s", flow.id[:8], client.client_id,
             identity.level_of_assurance.name)
    SIGNINS_COMPLETED.labels(client.config.council, identity.level_of_assurance.name).inc()
    audit("signin.completed", council=client.config.council, client=client.client_id,
          level_of_assurance=identity.level_of_assurance.name, from_session=not started)
    response.headers["Cache-Control"] = "no-store"
    if started:
        set_session_cookie(response, session, broker.config)
    return response


def set_session_cookie(response, session: BrokerSession, config) -> None:
    """Opaque id only; Lax so that council apps' top-level redirects to /authorize carry it."""
    response.set_cookie(SESSION_COOKIE, session.id, max_age=config.oidc.session_absolute_seconds,
                        secure=config.issuer.startswith("https://"), httponly=True,
                        samesite="Lax", path="/")
