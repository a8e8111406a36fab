"""OIDC endpoints: discovery (OIDC Discovery 1.0, RFC 8414), JWKS, token and userinfo."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import current_token
from flask import Blueprint, current_app, jsonify

from broker.identity import LevelOfAssurance
from broker.oidc.claims import SUPPORTED_CLAIMS, SUPPORTED_SCOPES

bp = Blueprint("oidc", __name__)


def _broker():
    return current_app.extensions["broker"]


def discovery_document(broker) -> dict:
    issuer = broker.config.issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [broker.signing_keys.alg],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "claims_supported": list(SUPPORTED_CLAIMS),
        "acr_values_supported": [level.uri for level in LevelOfAssurance],
        "ui_locales_supported": ["en", "cy"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }


@bp.get("/.well-known/openid-configuration")
@bp.get("/.well-known/oauth-authorization-server")
def discovery():
    return jsonify(discovery_document(_broker()))


@bp.get("/.well-known/jwks.json")
def jwks():
    return jsonify(_broker().signing_keys.jwks())


@bp.post("/token")
def token():
    response = _broker().authorization_server.create_token_response()
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    broker = _broker()

    @broker.resource_protector("openid")
    def protected():
        resident = current_token.get_user()
        return jsonify(resident.released(current_token.get_scope()))

    return protected()
