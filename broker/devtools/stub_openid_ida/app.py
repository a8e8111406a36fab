"""The stub OpenID provider's web app: discovery (with the OIDC4IDA metadata of section 7),
/authorize (a person picks a test identity or a failure), /token (PKCE S256, `private_key_jwt`
against the broker's published keys or `client_secret_basic`), /userinfo and RS256 ID tokens.

It answers the `claims` request as OpenID Connect for Identity Assurance 1.0 section 5.5 says:
only the claims asked for inside `verified_claims`, in the ID token or /userinfo as asked, and
no `verified_claims` object whose `trust_framework` or `assurance_level` the request's `values`
exclude. Development and tests only: it refuses to start in production.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from broker.devtools.stub_hub.app import refuse_production
from broker.devtools.stub_openid_ida.identities import (
    DEFAULT_IDENTITY,
    FAILURES,
    IDENTITIES,
    TRUST_FRAMEWORK,
)
from broker.web.design import current_language, init_design
from broker.web.i18n import other_language
from broker.web.security import install_security

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CODE_SECONDS = 60
ERRORS = {"access-denied": "access_denied", "fraud": "fraud_detected",
          "server-error": "server_error", "temporarily-unavailable": "temporarily_unavailable"}


@dataclass(frozen=True)
class StubOpenIdIdaConfig:
    base_url: str
    client_id: str
    redirect_uris: tuple[str, ...]
    # private_key_jwt: the broker's public keys (a JWKS, or the URL it publishes them at);
    # client_secret_basic: the shared secret.
    client_jwks: dict[str, Any] | None = None
    client_jwks_uri: str | None = None
    client_secret: str | None = None
    mode: str = "development"
    id_token_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(
        2048, auto_kid=True, private=True))

    @property
    def issuer(self) -> str:
        return self.base_url


class Refused(Exception):
    pass


@dataclass
class Grant:
    identity: str
    nonce: str
    redirect_uri: str
    code_challenge: str
    claims: dict[str, Any]
    expires: float


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _allowed(spec: Any, value: Any) -> bool:
    """A `value`/`values` constraint of a claims request (OIDC Core 5.5.1) met by `value`."""
    if not isinstance(spec, dict):
        return True
    if "value" in spec:
        return value == spec["value"]
    if "values" in spec:
        return value in spec["values"]
    return True


def answer_verified_claims(objects: list[dict[str, Any]], asked: Any) -> list[dict[str, Any]]:
    """The objects the request asked for, each cut to the claims asked for (OIDC4IDA 5.2-5.5)."""
    if not isinstance(asked, dict):
        return []
    wanted_verification = asked.get("verification") or {}
    wanted_claims = asked.get("claims") or {}
    answer = []
    for item in objects:
        verification = item["verification"]
        if not all(_allowed(wanted_verification.get(key), verification.get(key))
                   for key in ("trust_framework", "assurance_level")):
            continue
        claims = {k: v for k, v in item["claims"].items() if k in wanted_claims}
        if claims:
            kept = {k: v for k, v in verification.items()
                    if k == "trust_framework" or k in wanted_verification}
            answer.append({"verification": kept, "claims": claims})
    return answer


def create_stub_openid_ida(config: StubOpenIdIdaConfig) -> Flask:
    refuse_production("The stub OpenID provider", config.mode)
    app = Flask(__name__, template_folder="templates")
    app.config.update(SECRET_KEY=os.urandom(32), SESSION_COOKIE_NAME="stubida_session")
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt="stub-openid-ida-request")
    lock = threading.Lock()
    codes: dict[str, Grant] = {}
    tokens: dict[str, Grant] = {}
    jtis: set[str] = set()
    install_security(app, secure_cookies=config.base_url.startswith("https://"), form_action="*")
    init_design(app, service_name=_l("Prove your identity"),
                organisation=_l("Stub identity service (development only)"),
                language_cookie="stubida_lang")

    @app.get("/.well-known/openid-configuration")
    def discovery():
        base = config.base_url
        return jsonify({
            "issuer": config.issuer, "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks.json", "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"], "subject_types_supported": ["public"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256"],
            "id_token_signing_alg_values_supported": ["RS256"], "claims_parameter_supported": True,
            "ui_locales_supported": ["en", "cy"],
            "verified_claims_supported": True, "trust_frameworks_supported": [TRUST_FRAMEWORK],
            "evidence_supported": ["document"], "documents_supported": ["passport", "driving_permit"],
            "claims_in_verified_claims_supported": ["given_name", "middle_name", "family_name",
                                                    "birth_family_name", "birthdate", "address"],
        })

    @app.get("/jwks.json")
    def jwks():
        return jsonify({"keys": [{**config.id_token_key.as_dict(private=False), "use": "sig",
                                  "alg": "RS256"}]})

    def read_authorize(args) -> dict[str, Any]:
        if args.get("client_id") != config.client_id:
            raise Refused("unknown client_id")
        if args.get("redirect_uri") not in config.redirect_uris:
            raise Refused("redirect_uri is not registered")
        if args.get("response_type") != "code" or not args.get("state") or not args.get("nonce"):
            raise Refused("response_type=code, state and nonce are required")
        if args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            raise Refused("PKCE with S256 is required")
        if "openid" not in args.get("scope", "").split():
            raise Refused("scope must include openid")
        try:
            claims = json.loads(args.get("claims") or "{}")
        except ValueError:
            raise Refused("claims is not JSON") from None
        if not isinstance(claims, dict):
            raise Refused("claims is not a JSON object")
        return {"redirect_uri": args["redirect_uri"], "state": args["state"],
                "nonce": args["nonce"], "code_challenge": args["code_challenge"], "claims": claims}

    def choose_page(pending: str):
        g.language_switch_url = url_for("choose", pending=pending,
                                        lang=other_language(current_language()))
        return render_template("choose.html", pending=pending, default=DEFAULT_IDENTITY,
                               identities={k: i.label for k, i in IDENTITIES.items()},
                               failures=FAILURES)

    @app.get("/authorize")
    def authorize():
        try:
            pending = read_authorize(request.args)
        except Refused as exc:
            return render_template("refused.html", reason=str(exc)), 400
        return choose_page(serializer.dumps(pending))

    @app.get("/authorize/choose")
    def choose():
        try:
            pending = request.args.get("pending", "")
            serializer.loads(pending)
        except BadSignature:
            abort(400)
        return choose_page(pending)

    @app.post("/authorize/answer")
    def answer():
        try:
            pending = serializer.loads(request.form.get("pending", ""))
        except BadSignature:
            abort(400)
        choice = request.form.get("choice", DEFAULT_IDENTITY)
        back = pending["redirect_uri"]
        if choice in ERRORS:
            return redirect(f"{back}?{urlencode({'error': ERRORS[choice], 'state': pending['state']})}")
        if choice not in IDENTITIES and choice not in FAILURES:
            abort(400)
        code = secrets.token_urlsafe(24)
        with lock:
            codes[code] = Grant(choice, pending["nonce"], back, pending["code_challenge"],
                                pending["claims"], time.time() + CODE_SECONDS)
        return redirect(f"{back}?{urlencode({'code': code, 'state': pending['state']})}")

    def client_authenticated() -> bool:
        form = request.form
        if config.client_secret is not None:
            auth = request.authorization
            return (auth is not None and auth.type == "basic"
                    and auth.username == config.client_id
                    and secrets.compare_digest(auth.password or "", config.client_secret))
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return False
        try:
            keys = config.client_jwks or requests.get(config.client_jwks_uri, timeout=5).json()
            token = jwt.decode(form.get("client_assertion", ""), KeySet.import_key_set(keys),
                               algorithms=["RS256", "PS256", "ES256"])
        except (JoseError, ValueError, requests.RequestException):
            return False
        claims = token.claims
        if (claims.get("iss") != config.client_id or claims.get("sub") != config.client_id
                or claims.get("aud") != f"{config.base_url}/token"
                or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time()
                or not claims.get("jti")):
            return False
        with lock:
            if claims["jti"] in jtis:
                return False
            jtis.add(claims["jti"])
        return True

    def oauth_error(error: str, status: int = 400):
        return jsonify({"error": error}), status, {"Cache-Control": "no-store"}

    def verified_claims_for(grant: Grant, target: str) -> list[dict[str, Any]] | None:
        identity = IDENTITIES.get(grant.identity)
        asked = (grant.claims.get(target) or {}).get("verified_claims")
        if grant.identity == "unknown-framework":
            objects = [{"verification": {"trust_framework": "xx_unknown_framework"},
                        "claims": {"given_name": "Jane", "family_name": "Doe"}}]
            asked = {**(asked or {}), "verification": {}}
        elif identity is None:
            return None
        else:
            objects = identity.verified_claims
        answer = answer_verified_claims(objects, asked)
        return answer or None

    def subject(grant: Grant) -> str:
        identity = IDENTITIES.get(grant.identity)
        return identity.sub if identity else f"stub-ida-{grant.identity}"

    @app.post("/token")
    def token():
        if not client_authenticated():
            return oauth_error("invalid_client", 401)
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return oauth_error("unsupported_grant_type")
        with lock:
            grant = codes.pop(form.get("code", ""), None)
        if (grant is None or grant.expires < time.time()
                or grant.redirect_uri != form.get("redirect_uri")
                or _s256(form.get("code_verifier", "")) != grant.code_challenge):
            return oauth_error("invalid_grant")
        access_token = secrets.token_urlsafe(32)
        with lock:
            tokens[access_token] = grant
        now = int(time.time())
        claims = {"iss": config.issuer, "aud": config.client_id, "sub": subject(grant),
                  "iat": now, "exp": now + 300, "auth_time": now, "nonce": grant.nonce}
        verified = verified_claims_for(grant, "id_token")
        if verified:
            claims["verified_claims"] = verified
        id_token = jwt.encode({"alg": "RS256", "kid": config.id_token_key.kid}, claims,
                              config.id_token_key, algorithms=["RS256"])
        return jsonify({"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                        "id_token": id_token}), 200, {"Cache-Control": "no-store"}

    @app.get("/userinfo")
    def userinfo():
        header = request.headers.get("Authorization", "")
        grant = tokens.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None
        if grant is None:
            return "", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        info: dict[str, Any] = {"sub": subject(grant)}
        verified = verified_claims_for(grant, "userinfo")
        if verified:
            info["verified_claims"] = verified
        return jsonify(info)

    return app
