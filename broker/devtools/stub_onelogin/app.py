"""The stub One Login's web app: discovery, /authorize (a person picks a test identity or a
failure), /token (private_key_jwt), /userinfo with a core identity JWT, the JWKS and did.json.

It follows One Login's technical documentation and its public simulator: ID tokens ES256 with
`vot` `Cl.Cm` (the identity level is in the core identity JWT's `vot`), core identity JWTs ES256
with `kid` `<did>#<key id>` from its own `did:web` document, client assertions RS256/PS256 with
the token endpoint as audience. Development and tests only: it refuses to start in production.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from base64 import urlsafe_b64encode
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlparse

import requests
from flask import Flask, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from broker.devtools.stub_hub.app import refuse_production
from broker.devtools.stub_onelogin.identities import DEFAULT_IDENTITY, FAILURES, IDENTITIES
from broker.web.design import current_language, init_design
from broker.web.i18n import other_language
from broker.web.security import install_security

CORE_IDENTITY = "https://vocab.account.gov.uk/v1/coreIdentityJWT"
ADDRESS = "https://vocab.account.gov.uk/v1/address"
RETURN_CODE = "https://vocab.account.gov.uk/v1/returnCode"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CODE_SECONDS = 60


@dataclass(frozen=True)
class StubOneLoginConfig:
    base_url: str
    client_id: str
    redirect_uris: tuple[str, ...]
    # The broker's private_key_jwt public keys: a JWKS, or the URL it publishes them at.
    client_jwks: dict[str, Any] | None = None
    client_jwks_uri: str | None = None
    mode: str = "development"
    id_token_key: ECKey = field(default_factory=lambda: _ec_key())
    identity_key: ECKey = field(default_factory=lambda: _ec_key())

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/"

    @property
    def identity_issuer(self) -> str:
        """Distinct from the OIDC issuer, as One Login's are in production."""
        return f"{self.base_url}/identity/"

    @property
    def did(self) -> str:
        return f"did:web:{quote(urlparse(self.base_url).netloc, safe='')}"

    @property
    def did_url(self) -> str:
        return f"{self.base_url}/.well-known/did.json"

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    @property
    def identity_kid(self) -> str:
        return f"{self.did}#{self.identity_key.kid}"


def _ec_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True, private=True)


class Refused(Exception):
    pass


@dataclass
class Grant:
    identity: str
    nonce: str
    redirect_uri: str
    claims: tuple[str, ...]
    scopes: tuple[str, ...]
    vtr: str
    expires: float


class StubStore:
    """Codes, access tokens and seen assertion ids, in memory (one stub process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.codes: dict[str, Grant] = {}
        self.tokens: dict[str, Grant] = {}
        self.jtis: set[str] = set()


def _at_hash(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()
    return urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def create_stub_onelogin(config: StubOneLoginConfig) -> Flask:
    refuse_production("The stub One Login", config.mode)
    app = Flask(__name__, template_folder="templates")
    app.config.update(SECRET_KEY=os.urandom(32), SESSION_COOKIE_NAME="stubonelogin_session")
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt="stub-onelogin-request")
    store = StubStore()
    install_security(app, secure_cookies=config.base_url.startswith("https://"), form_action="*")
    init_design(app, service_name=_l("Prove your identity"),
                organisation=_l("Stub GOV.UK One Login (development only)"),
                language_cookie="stubonelogin_lang")

    @app.get("/.well-known/openid-configuration")
    def discovery():
        base = config.base_url
        return jsonify({
            "issuer": config.issuer, "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token", "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/.well-known/jwks.json", "end_session_endpoint": f"{base}/logout",
            "response_types_supported": ["code"], "grant_types_supported": ["authorization_code"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256"],
            "id_token_signing_alg_values_supported": ["ES256"], "ui_locales_supported": ["en", "cy"],
            "subject_types_supported": ["pairwise"], "backchannel_logout_supported": True,
            "claims_supported": ["sub", CORE_IDENTITY, ADDRESS, RETURN_CODE],
        })

    @app.get("/.well-known/jwks.json")
    def jwks():
        key = config.id_token_key.as_dict(private=False)
        return jsonify({"keys": [{**key, "use": "sig", "alg": "ES256"}]})

    @app.get("/.well-known/did.json")
    def did_document():
        return jsonify({
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/jwk/v1"],
            "id": config.did,
            "assertionMethod": [{"type": "JsonWebKey", "id": config.identity_kid,
                                 "controller": config.did,
                                 "publicKeyJwk": config.identity_key.as_dict(private=False)}],
        })

    def read_authorize(args) -> dict[str, Any]:
        if args.get("client_id") != config.client_id:
            raise Refused("unknown client_id")
        if args.get("redirect_uri") not in config.redirect_uris:
            raise Refused("redirect_uri is not registered")
        if args.get("response_type") != "code" or not args.get("state") or not args.get("nonce"):
            raise Refused("response_type=code, state and nonce are required")
        scopes = tuple(args.get("scope", "").split())
        if "openid" not in scopes:
            raise Refused("scope must include openid")
        try:
            vtr = json.loads(args.get("vtr") or '["Cl.Cm"]')
            claims = json.loads(args.get("claims") or "{}").get("userinfo", {})
        except (ValueError, AttributeError):
            raise Refused("vtr or claims is not JSON") from None
        if not isinstance(vtr, list) or len(vtr) != 1 or not isinstance(vtr[0], str):
            raise Refused("vtr must be a JSON list of one vector")
        return {"redirect_uri": args["redirect_uri"], "state": args["state"],
                "nonce": args["nonce"], "scopes": list(scopes), "claims": sorted(claims),
                "vtr": vtr[0], "ui_locales": args.get("ui_locales", "en")}

    def choose_page(pending: str, vtr: str):
        g.language_switch_url = url_for("choose", pending=pending,
                                        lang=other_language(current_language()))
        return render_template("choose.html", pending=pending, identities=IDENTITIES.values(),
                               default=DEFAULT_IDENTITY, failures=FAILURES, vtr=vtr)

    @app.get("/")
    def home():
        """Its own address, as `make demo` prints it: what it is, not a 404."""
        return render_template("home.html", upstream="GOV.UK One Login")

    @app.get("/authorize")
    def authorize():
        try:
            pending = read_authorize(request.args)
        except Refused as exc:
            return render_template("refused.html", reason=str(exc)), 400
        return choose_page(serializer.dumps(pending), pending["vtr"])

    @app.get("/authorize/choose")
    def choose():
        try:
            pending = request.args.get("pending", "")
            return choose_page(pending, serializer.loads(pending)["vtr"])
        except (BadSignature, KeyError, TypeError):
            abort(400)

    @app.post("/authorize/answer")
    def answer():
        try:
            pending = serializer.loads(request.form.get("pending", ""))
        except BadSignature:
            abort(400)
        choice = request.form.get("choice", DEFAULT_IDENTITY)
        back = pending["redirect_uri"]
        if choice in ("access-denied", "temporarily-unavailable"):
            error = choice.replace("-", "_")
            return redirect(f"{back}?{urlencode({'error': error, 'state': pending['state']})}")
        if choice not in IDENTITIES and choice != "not-proven":
            abort(400)
        code = secrets.token_urlsafe(24)
        with store.lock:
            store.codes[code] = Grant(choice, pending["nonce"], back, tuple(pending["claims"]),
                                      tuple(pending["scopes"]), pending["vtr"],
                                      time.time() + CODE_SECONDS)
        return redirect(f"{back}?{urlencode({'code': code, 'state': pending['state']})}")

    def client_keys() -> KeySet:
        data = config.client_jwks
        if data is None:
            data = requests.get(config.client_jwks_uri, timeout=5).json()
        return KeySet.import_key_set(data)

    def check_client_assertion(form) -> None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise Refused("invalid_client")
        try:
            token = jwt.decode(form.get("client_assertion", ""), client_keys(),
                               algorithms=["RS256", "PS256"])
        except (JoseError, ValueError, requests.RequestException):
            raise Refused("invalid_client") from None
        claims, now = token.claims, time.time()
        if (claims.get("iss") != config.client_id or claims.get("sub") != config.client_id
                or claims.get("aud") != f"{config.base_url}/token"
                or not isinstance(claims.get("exp"), int) or claims["exp"] < now
                or not claims.get("jti")):
            raise Refused("invalid_client")
        with store.lock:
            if claims["jti"] in store.jtis:
                raise Refused("invalid_client")
            store.jtis.add(claims["jti"])

    def oauth_error(error: str, status: int = 400):
        return jsonify({"error": error}), status, {"Cache-Control": "no-store"}

    @app.post("/token")
    def token():
        form = request.form
        try:
            check_client_assertion(form)
        except Refused:
            return oauth_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return oauth_error("unsupported_grant_type")
        with store.lock:
            grant = store.codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.time() or grant.redirect_uri != form.get(
                "redirect_uri"):
            return oauth_error("invalid_grant")
        access_token = secrets.token_urlsafe(32)
        with store.lock:
            store.tokens[access_token] = grant
        now = int(time.time())
        sub = _sub(grant)
        id_token = jwt.encode(
            {"alg": "ES256", "kid": config.id_token_key.kid},
            {"iss": config.issuer, "aud": config.client_id, "sub": sub, "iat": now,
             "exp": now + 180, "auth_time": now, "nonce": grant.nonce,
             "vot": ".".join(grant.vtr.split(".")[:2]), "vtm": f"{config.base_url}/trustmark",
             "sid": secrets.token_urlsafe(8), "at_hash": _at_hash(access_token)},
            config.id_token_key, algorithms=["ES256"])
        return jsonify({"access_token": access_token, "token_type": "Bearer",
                        "expires_in": 180, "id_token": id_token}), 200, {
                            "Cache-Control": "no-store"}

    @app.get("/userinfo")
    def userinfo():
        header = request.headers.get("Authorization", "")
        grant = store.tokens.get(header.removeprefix("Bearer ")) if header.startswith(
            "Bearer ") else None
        if grant is None:
            return "", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        info: dict[str, Any] = {"sub": _sub(grant)}
        identity = IDENTITIES.get(grant.identity)
        if identity is None:
            if RETURN_CODE in grant.claims:
                info[RETURN_CODE] = [{"code": "X"}]
            return jsonify(info)
        if CORE_IDENTITY in grant.claims and ".P" in grant.vtr:
            now = int(time.time())
            info[CORE_IDENTITY] = jwt.encode(
                {"alg": "ES256", "kid": config.identity_kid},
                {"iss": config.identity_issuer, "aud": config.client_id, "sub": info["sub"],
                 "nbf": now, "iat": now, "exp": now + 3600, "vot": identity.vot,
                 "vtm": f"{config.base_url}/trustmark",
                 "vc": {"type": ["VerifiableCredential", "IdentityCheckCredential"],
                        "credentialSubject": identity.credential_subject}},
                config.identity_key, algorithms=["ES256"])
        if ADDRESS in grant.claims:
            info[ADDRESS] = identity.addresses
        return jsonify(info)

    @app.get("/logout")
    def logout():
        target = request.args.get("post_logout_redirect_uri")
        return redirect(target) if target else ("Signed out", 200)

    return app


def _sub(grant: Grant) -> str:
    identity = IDENTITIES.get(grant.identity)
    return identity.sub if identity else f"urn:fdc:gov.uk:2022:stub-{grant.identity}"
