"""The demo council app: "Sign in" sends the resident through the broker and back, then shows
what the council received. Development and tests only: it refuses to start in production mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from broker.config.branding import Brand, Text
from broker.devtools.council_app.matching import RECORDS, register_matching_service
from broker.devtools.stub_hub.app import refuse_production
from broker.identity import LevelOfAssurance
from broker.web.brand_pages import BrandBook
from broker.web.design import current_language, init_design
from broker.web.security import install_security


@dataclass(frozen=True)
class CouncilAppConfig:
    base_url: str
    broker_issuer: str
    client_id: str
    client_secret: str
    council_name: str = "Demo Borough Council"
    scope: str = "openid profile address"
    mode: str = "development"
    matching_token: str | None = None  # bearer token its demo matching service expects
    brand: Brand | None = None  # the council's brand, as the broker shows it (demo: same config)


def level_name(acr: str | None) -> str:
    try:
        return LevelOfAssurance.from_uri(acr or "").name
    except ValueError:
        return acr or "unknown"


def create_council_app(config: CouncilAppConfig) -> Flask:
    refuse_production("The demo council app", config.mode)
    app = Flask(__name__, template_folder="templates")
    app.config.update(SECRET_KEY=os.urandom(32), SESSION_COOKIE_NAME="council_session")
    broker_origin = "/".join(config.broker_issuer.split("/")[:3])
    install_security(app, secure_cookies=config.base_url.startswith("https://"),
                     form_action=f"'self' {broker_origin}")
    brand = config.brand or Brand(key="councils/demo", name=Text(config.council_name,
                                                                  config.council_name))
    init_design(app, service_name=_l("%(council)s online services", council=config.council_name),
                organisation=config.council_name, language_cookie="council_lang",
                brands=BrandBook(neutral=brand))
    oauth = OAuth(app)
    oauth.register(
        "broker",
        client_id=config.client_id,
        client_secret=config.client_secret,
        server_metadata_url=f"{config.broker_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": config.scope, "code_challenge_method": "S256",
                       "token_endpoint_auth_method": "client_secret_basic", "timeout": 10},
    )

    existing_accounts = {record.account_id for record in RECORDS}

    @app.get("/")
    def home():
        """The account page shows what matching produced: what a council watching the demo
        wants to see (an existing record, a new account, or no local account)."""
        resident = session.get("resident")
        # The council knows its residents by the hashed PID, which the broker sends as `sub`
        # (ADR 0009); a `local_account_id` claim, when its matching service returns one, says it too.
        account = resident and (resident.get("local_account_id")
                                or app.extensions.get("council_accounts", {}).get(resident["sub"]))
        matching = None
        if resident:
            matching = ("none" if not account else
                        "existing" if account in existing_accounts else "new")
        return render_template("home.html", council=config.council_name, resident=resident,
                               matching=matching, account=account)

    @app.get("/accessibility")
    @app.get("/privacy")
    def statement():
        """Where the demo's footers link (a real council's accessibility statement and privacy
        notice): the broker requires both in production."""
        heading = (gettext("Accessibility statement") if request.path == "/accessibility"
                   else gettext("Privacy notice"))
        return render_template("statement.html", heading=heading)

    @app.get("/login")
    def login():
        """"Sign in": a plain GET (a link), so that the browser follows /authorize's redirect to
        any upstream. After a form, CSP's form-action (ours: 'self' and the broker) would also
        apply to the broker's redirect to One Login or an OpenID provider, and Chromium would
        block it."""
        return oauth.broker.authorize_redirect(f"{config.base_url}/callback",
                                               acr_values=LevelOfAssurance.LEVEL_1.uri,
                                               ui_locales=current_language())

    @app.get("/callback")
    def callback():
        if request.args.get("error"):
            return render_template("signin_failed.html", council=config.council_name,
                                   error=request.args.get("error"),
                                   description=request.args.get("error_description")), 200
        try:
            token = oauth.broker.authorize_access_token()
            userinfo = oauth.broker.userinfo(token=token)
        except OAuthError as exc:
            return render_template("signin_failed.html", council=config.council_name,
                                   error=exc.error, description=exc.description), 200
        claims = token["userinfo"]
        session["resident"] = {
            "sub": claims["sub"],
            "local_account_id": claims.get("local_account_id"),
            "given_name": userinfo.get("given_name"),
            "family_name": userinfo.get("family_name"),
            "birthdate": userinfo.get("birthdate"),
            "level": level_name(claims.get("acr")),
        }
        session["id_token"] = token["id_token"]
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout():
        """Signs out here and at the broker (RP-Initiated Logout), then comes back home."""
        id_token = session.get("id_token")
        session.clear()
        if not id_token:
            return redirect(url_for("home"))
        end_session = oauth.broker.load_server_metadata()["end_session_endpoint"]
        return redirect(add_params_to_uri(end_session, {
            "id_token_hint": id_token, "post_logout_redirect_uri": f"{config.base_url}/",
            "client_id": config.client_id}))

    register_matching_service(app, config.matching_token)  # plays the council's matching service
    return app
