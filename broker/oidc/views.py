"""OIDC endpoints: discovery (OIDC Discovery 1.0, RFC 8414), JWKS, PAR (RFC 9126), token,
userinfo and RP-initiated logout (RP-Initiated Logout 1.0)."""

from __future__ import annotations

import logging
import secrets

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import current_token
from authlib.oauth2.rfc6749.errors import (
    InsecureTransportError,
    InvalidRequestError,
    OAuth2Error,
)
from flask import Blueprint, current_app, jsonify, render_template, request

from broker.claims_catalogue import PERSON_CLAIMS, SUPPORTED_CLAIMS, SUPPORTED_SCOPES
from broker.config import AUTH_METHODS
from broker.context import current_broker
from broker.identity import LevelOfAssurance
from broker.oidc.authorization_request import PAR_REQUEST_URI_PREFIX, check_authorization_request
from broker.oidc.logout import (
    logout_confirmed,
    logout_csrf_token,
    notify_council_apps,
    read_id_token_hint,
)
from broker.oidc.server import StoredAuthorizationRequest, submitted_values, without_raw_input
from broker.web.brand_pages import remembered_council, use_council_brand
from broker.web.cookies import SESSION, cookies
from broker.web.pages import render_page

log = logging.getLogger(__name__)
bp = Blueprint("oidc", __name__)


def discovery_document(broker) -> dict:
    issuer = broker.config.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "end_session_endpoint": f"{issuer}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": broker.signing_keys.algorithms,
        "userinfo_signing_alg_values_supported": [],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "claims_supported": list(SUPPORTED_CLAIMS),
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,  # PAR's request_uri only (RFC 9126)
        "require_request_uri_registration": False,
        "acr_values_supported": [level.uri for level in LevelOfAssurance],
        "ui_locales_supported": ["en", "cy"],
        "claims_locales_supported": ["en"],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "verified_claims_supported": True,
        "trust_frameworks_supported": [broker.config.oidc.trust_framework],
        "evidence_supported": [],
        "claims_in_verified_claims_supported": list(PERSON_CLAIMS),
    }


CLIENT_ENDPOINTS = ("oidc.token", "oidc.pushed_authorization_request", "oidc.userinfo")


@bp.errorhandler(413)
def too_large(_exc):
    """A council app's server gets an OAuth error it can parse, not the residents' page."""
    if request.endpoint in CLIENT_ENDPOINTS:
        response = _json_error(InvalidRequestError("the request body is too large"))
        response.status_code = 413
        return response
    return render_page("too-large")


@bp.app_errorhandler(InsecureTransportError)
def insecure_transport(_exc):
    """Authlib refuses an http URL (other than localhost) for /token and /par (the request's URL)
    and /authorize (the issuer's). Behind a TLS proxy that means the proxy's X-Forwarded-Proto was
    not believed; in development, a Host or issuer other than localhost. A council app gets an
    OAuth error, a resident a page; the operator a line saying what to configure."""
    log.error("%s reached over plain http (scheme %s, issuer %s): behind a TLS-terminating proxy "
              "set FORWARDED_ALLOW_IPS to the proxy's address so that X-Forwarded-Proto is "
              "believed, and use an https issuer; in development use http://localhost or "
              "http://127.0.0.1", request.path, request.scheme, current_broker().config.issuer)
    if request.endpoint in CLIENT_ENDPOINTS:
        return _json_error(InvalidRequestError("this endpoint must be reached over https"), 400)
    return render_page("unavailable")


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery():
    response = jsonify(discovery_document(current_broker()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(current_broker().signing_keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.post("/token")
def token():
    response = current_broker().authorization_server.create_token_response()
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_error(error: OAuth2Error, status: int = 400):
    response = jsonify({"error": error.error, "error_description": error.description})
    response.status_code = error.status_code or status
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/par")
def pushed_authorization_request():
    """RFC 9126: the client authenticates and pushes its request; /authorize gets a reference."""
    broker = current_broker()
    server = broker.authorization_server
    oauth_request = server.create_oauth2_request(None)
    try:
        client = server.authenticate_client(oauth_request, list(AUTH_METHODS), endpoint="par")
    except OAuth2Error as error:
        return _json_error(without_raw_input(error, submitted_values()), 401)
    params = {key: request.form.get(key, "") for key in request.form}
    for credential in ("client_secret", "client_assertion", "client_assertion_type"):
        params.pop(credential, None)
    try:
        if "request_uri" in params:
            raise InvalidRequestError("'request_uri' is not allowed in a pushed request")
        if params.get("client_id", client.client_id) != client.client_id:
            raise InvalidRequestError("'client_id' does not match the authenticated client")
        params["client_id"] = client.client_id
        if not client.check_redirect_uri(params.get("redirect_uri", "")):
            raise InvalidRequestError("'redirect_uri' is not registered for this client")
        params = check_authorization_request(params)
        server.get_consent_grant(StoredAuthorizationRequest(
            f"{broker.config.issuer}/authorize", params), end_user=True)
    except OAuth2Error as error:
        return _json_error(without_raw_input(error, submitted_values()))
    request_uri = PAR_REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
    ttl = broker.config.oidc.par_ttl_seconds
    broker.state.save_pushed_request(request_uri, {"client_id": client.client_id,
                                                   "params": params}, ttl)
    response = jsonify({"request_uri": request_uri, "expires_in": ttl})
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    broker = current_broker()

    @broker.resource_protector("openid")
    def protected():
        user = current_token.get_user()
        response = jsonify(user.claims_for("userinfo", current_token.get_scope()))
        response.headers["Cache-Control"] = "no-store"
        return response

    return protected()


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """RP-Initiated Logout 1.0: ends the broker session and tells the other council apps."""
    broker = current_broker()
    params = {key: request.values.get(key, "") for key in request.values}
    hint = read_id_token_hint(broker, params.get("id_token_hint", ""))
    if params.get("id_token_hint") and hint is None:
        return render_page("invalid-request")
    audience = hint.get("aud") if hint else None
    if isinstance(audience, list):
        audience = audience[0] if len(audience) == 1 else None
    client_id = params.get("client_id") or audience
    if hint and params.get("client_id") and params["client_id"] != audience:
        return render_page("invalid-request")
    client = broker.clients.get(client_id)
    if client is not None:
        use_council_brand(client.config.council)  # the confirmation and signed-out pages
    post_logout = params.get("post_logout_redirect_uri")
    if post_logout and (client is None or not client.check_post_logout_redirect_uri(post_logout)):
        return render_page("invalid-request")
    session_id = cookies().get(SESSION)
    if not logout_confirmed(broker, session_id, hint, params, request.method):
        # Without proof the request comes from this browser's own session, ask first.
        params.pop("csrf_token", None)
        remembered = remembered_council()
        if remembered:
            use_council_brand(remembered[0])
        return render_template("logout_confirm.html", params=params,
                               csrf_token=logout_csrf_token(broker, session_id),
                               cancel_url=remembered[1].url if remembered else None), 200, {
            "Cache-Control": "no-store"}
    session = broker.sessions.end(session_id) if session_id else None
    if session is not None:
        notify_council_apps(broker, session)
    if post_logout:
        query = [("state", params["state"])] if params.get("state") else []
        response = current_app.response_class("", 302, {
            "Location": add_params_to_uri(post_logout, query), "Cache-Control": "no-store"})
    else:
        body, status, headers = render_page("signed-out")
        response = current_app.response_class(body, status, headers)
    cookies().delete(response, SESSION)
    return response
