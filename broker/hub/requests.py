"""AuthnRequests to the hub, per GOV.UK Verify's profile.

Signed RSA-SHA256 (SHA-256 digest) and sent by HTTP-POST; no IsPassive, no Scoping and no
AssertionConsumerServiceURL (the hub takes the one from our metadata); ForceAuthn only when the
council asked for fresh authentication; the minimum level with Comparison="minimum".
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.config import SamlConfig
from broker.hub.federation import HubMetadata
from broker.hub.saml_signing import sign_after_issuer
from broker.identity import LevelOfAssurance


@dataclass(frozen=True)
class AuthnRequest:
    id: str
    xml: str
    destination: str

    @property
    def encoded(self) -> str:
        return base64.b64encode(self.xml.encode()).decode()


def authn_request_id_for(flow_id: str) -> str:
    """The AuthnRequest's ID, derived from the id of the flow it is sent for (which travels
    beside it as the RelayState): the assertion consumer service checks a Response's
    InResponseTo before it takes the flow, and so takes the flow in the one round trip that
    also writes what the answer leaves (ADR 24). As unguessable as the flow id, which the hub
    and the browser see in the same form anyway; one AuthnRequest per flow, so never repeated.
    Starts with `_`: an XML ID must not start with a digit."""
    return "_" + hashlib.sha256(f"authn-request\n{flow_id}".encode()).hexdigest()[:40]


def build_authn_request(saml: SamlConfig, hub: HubMetadata, minimum_level: LevelOfAssurance,
                        flow_id: str, force_authn: bool = False, now: datetime | None = None
                        ) -> AuthnRequest:
    request_id = authn_request_id_for(flow_id)
    instant = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    force = ' ForceAuthn="true"' if force_authn else ""
    xml = (
        f'<saml2p:AuthnRequest xmlns:saml2p="{C.NS_SAMLP}" xmlns:saml2="{C.NS_SAML}" '
        f'ID="{request_id}" Version="2.0" IssueInstant="{instant}" '
        f"Destination={quoteattr(hub.sso_url)}{force}>"
        f"<saml2:Issuer>{escape(saml.entity_id)}</saml2:Issuer>"
        '<saml2p:RequestedAuthnContext Comparison="minimum">'
        f"<saml2:AuthnContextClassRef>{minimum_level.uri}</saml2:AuthnContextClassRef>"
        "</saml2p:RequestedAuthnContext>"
        "</saml2p:AuthnRequest>"
    )
    signed = sign_after_issuer(xml, saml.signing.key_pem, saml.signing.cert_pem)
    return AuthnRequest(id=request_id, xml=signed, destination=hub.sso_url)
