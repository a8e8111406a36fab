"""The stub hub's web app: verifies the broker's AuthnRequest, lets a person pick a test identity,
a failure or one of GOV.UK Verify's compliance-tool scenarios, and posts back a hub-signed
Response with the identity provider's two signed, encrypted assertions.

Development and tests only: it refuses to start in production mode.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass

from flask import Flask, abort, g, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.devtools.stub_hub import saml
from broker.devtools.stub_hub.identities import (
    DEFAULT_IDENTITY,
    FAILURES,
    IDENTITIES,
    LEVEL_X_URI,
    SCENARIOS,
)
from broker.hub.saml_xml import parse_xml
from broker.identity import LevelOfAssurance
from broker.web.design import current_language, init_design
from broker.web.i18n import other_language
from broker.web.security import install_security


class ProductionRefused(SystemExit):
    def __init__(self, what: str):
        super().__init__(f"{what} is for development and tests only and refuses to run with a "
                         "production configuration (mode: production, or BROKER_MODE=production)")


def refuse_production(what: str, mode: str | None = None) -> None:
    if "production" in {(mode or "").lower(), os.environ.get("BROKER_MODE", "").lower()}:
        raise ProductionRefused(what)


@dataclass(frozen=True)
class StubIdentityProvider:
    name: str
    key_pem: str
    cert_pem: str


@dataclass(frozen=True)
class StubHubConfig:
    base_url: str
    signing_key_pem: str
    signing_cert_pem: str
    federation_key_pem: str
    federation_cert_pem: str
    broker_entity_id: str
    broker_acs_url: str
    broker_signing_cert_pem: str
    broker_encryption_cert_pem: str
    other_signing_cert_pem: str = ""
    encryption_cert_pem: str = ""
    identity_providers: tuple[StubIdentityProvider, ...] = ()
    mode: str = "development"

    @property
    def entity_id(self) -> str:
        return f"{self.base_url}/saml/metadata"

    @property
    def idp_signers(self) -> tuple[saml.HubSigner, ...]:
        return tuple(saml.HubSigner(f"{self.base_url}/idp/{idp.name}", idp.key_pem, idp.cert_pem)
                     for idp in self.identity_providers)

    @property
    def idp(self) -> saml.HubSigner:
        """The identity provider the stub's residents use."""
        return self.idp_signers[0]

    @property
    def federation(self) -> saml.Federation:
        return saml.Federation(
            metadata_key_pem=self.federation_key_pem, metadata_cert_pem=self.federation_cert_pem,
            hub=self.signer, hub_other_signing_cert_pem=self.other_signing_cert_pem,
            hub_encryption_cert_pem=self.encryption_cert_pem, idps=self.idp_signers)

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/saml/sso"

    @property
    def signer(self) -> saml.HubSigner:
        return saml.HubSigner(self.entity_id, self.signing_key_pem, self.signing_cert_pem)


class RequestRefused(Exception):
    pass


def read_authn_request(config: StubHubConfig, encoded: str) -> dict:
    """Accepts only an AuthnRequest signed by the broker it knows, addressed to this hub."""
    try:
        xml = base64.b64decode(encoded, validate=True)
        root = parse_xml(xml)
    except (binascii.Error, ValueError, Exception):
        raise RequestRefused("the request is not a readable SAML message") from None
    if root.tag != f"{{{C.NS_SAMLP}}}AuthnRequest":
        raise RequestRefused("the message is not an AuthnRequest")
    issuer = root.find(f"{{{C.NS_SAML}}}Issuer")
    if issuer is None or issuer.text != config.broker_entity_id:
        raise RequestRefused("the request comes from a service provider this hub does not know")
    if root.get("Destination") != config.sso_url:
        raise RequestRefused("the request is addressed to another hub")
    if not OneLogin_Saml2_Utils.validate_sign(root, cert=config.broker_signing_cert_pem,
                                              xpath="/samlp:AuthnRequest/ds:Signature"):
        raise RequestRefused("the request is not signed by the broker")
    level = LevelOfAssurance.LEVEL_2
    ref = root.find(f"{{{C.NS_SAMLP}}}RequestedAuthnContext/{{{C.NS_SAML}}}AuthnContextClassRef")
    if ref is not None:
        level = LevelOfAssurance.from_uri(ref.text.strip())
    return {"id": root.get("ID"), "level": level.name,
            "force_authn": root.get("ForceAuthn") == "true"}


def answer_for(config: StubHubConfig, choice: str, in_response_to: str) -> str:
    """A success (a test identity) or one of the compliance tool's scenarios, as XML."""
    scenario = SCENARIOS.get(choice)
    identity = IDENTITIES[scenario.identity if scenario else choice]
    spec = saml.AssertionSpec(
        issuer=config.idp.entity_id, recipient=f"{config.entity_id}/SAML2/SSO/Response/POST",
        in_response_to=in_response_to, pid=identity.pid, level_uri=identity.level.uri,
        dataset=identity.dataset)
    if scenario and scenario.fraud:
        spec.level_uri = LEVEL_X_URI
        spec.fraud = saml.FraudEvent()
    idp = config.signer if scenario and scenario.signed_by_hub else config.idp
    return saml.success_response(config.signer, idp, spec, config.broker_encryption_cert_pem,
                                 config.broker_acs_url)


def create_stub_hub(config: StubHubConfig) -> Flask:
    refuse_production("The stub hub", config.mode)
    app = Flask(__name__, template_folder="templates")
    app.config.update(SECRET_KEY=os.urandom(32), SESSION_COOKIE_NAME="stubhub_session")
    serializer = URLSafeSerializer(app.config["SECRET_KEY"], salt="stub-hub-request")
    install_security(app, secure_cookies=config.base_url.startswith("https://"), form_action="*")
    init_design(app, service_name=_l("Prove your identity"),
                organisation=_l("Stub identity hub (development only)"), language_cookie="stubhub_lang")

    def choose_page(pending: str, level: str):
        """The choice of test identity; the language switch shows it again by GET."""
        g.language_switch_url = url_for("choose", pending=pending, lang=other_language(
            current_language()))
        return render_template("choose.html", pending=pending, identities=IDENTITIES.values(),
                               default=DEFAULT_IDENTITY, level=level,
                               failures={**FAILURES, **{key: s.label for key, s in SCENARIOS.items()}})

    @app.get("/")
    def home():
        """Its own address, as `make demo` prints it: what it is, not a 404."""
        return render_template("home.html", upstream="GOV.UK Verify's hub")

    @app.get("/saml/choose")
    def choose():
        try:
            pending = request.args.get("pending", "")
            return choose_page(pending, serializer.loads(pending)["level"])
        except (BadSignature, KeyError, TypeError):
            abort(400)

    @app.get("/saml/metadata")
    def metadata():
        xml = saml.federation_metadata(config.federation)
        return xml, 200, {"Content-Type": "application/samlmetadata+xml"}

    @app.post("/saml/sso")
    def single_sign_on():
        try:
            authn = read_authn_request(config, request.form.get("SAMLRequest", ""))
        except RequestRefused as exc:
            return render_template("refused.html", reason=str(exc)), 400
        pending = serializer.dumps({**authn, "relay_state": request.form.get("RelayState", "")})
        return choose_page(pending, authn["level"])

    @app.post("/saml/answer")
    def answer():
        try:
            pending = serializer.loads(request.form.get("pending", ""))
        except BadSignature:
            abort(400)
        choice = request.form.get("choice", DEFAULT_IDENTITY)
        if choice in FAILURES:
            xml = saml.failure_response(config.signer, choice, pending["id"],
                                        config.broker_acs_url)
        elif choice in IDENTITIES or choice in SCENARIOS:
            xml = answer_for(config, choice, pending["id"])
        else:
            abort(400)
        return render_template("post_back.html", acs_url=config.broker_acs_url,
                               saml_response=saml.encode(xml),
                               relay_state=pending["relay_state"])

    return app
