"""Builds the hub's answers for a test's flow, with the stub federation's real keys, in GOV.UK
Verify's profile (a hub-signed Response around two IDP-signed, encrypted assertions).

`success` and `failure` are what an honest hub sends. `forge` builds the hostile variants the
must-reject tests need (unsigned parts, foreign keys, SHA-1, wrapped signatures, extra
assertions, DOCTYPEs), always with real signatures and real encryption, so a rejection proves the
broker's checks and not a broken fixture.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.devtools.keys import self_signed_pair
from broker.devtools.stub_hub import saml
from broker.devtools.stub_hub.identities import IDENTITIES

NS = {"saml": C.NS_SAML, "samlp": C.NS_SAMLP, "ds": C.NS_DS}


def hub_acs(stack) -> str:
    """Where the identity provider's assertions were addressed: the hub, not the broker."""
    return f"{stack.hub.entity_id}/SAML2/SSO/Response/POST"


def assertion_spec(stack, in_response_to: str, identity: str = "jane", **changes
                   ) -> saml.AssertionSpec:
    person = IDENTITIES[identity]
    spec = saml.AssertionSpec(
        issuer=stack.hub.idp.entity_id, recipient=hub_acs(stack), in_response_to=in_response_to,
        pid=person.pid, level_uri=person.level.uri, dataset=person.dataset)
    for name, value in changes.items():
        setattr(spec, name, value)
    return spec


def success(stack, in_response_to: str, identity: str = "jane", **changes) -> str:
    spec = assertion_spec(stack, in_response_to, identity, **changes)
    return saml.encode(saml.success_response(stack.hub.signer, stack.hub.idp, spec,
                                             stack.config.saml.encryption[0].cert_pem,
                                             stack.config.acs_url))


def failure(stack, in_response_to: str, kind: str) -> str:
    return saml.encode(saml.failure_response(stack.hub.signer, kind, in_response_to,
                                             stack.config.acs_url))


def untrusted_signer(entity_id: str) -> saml.HubSigner:
    """A key pair nobody trusts, presenting a trusted entity's id."""
    key_pem, cert_pem = self_signed_pair("an attacker pretending to be the hub", days=2)
    return saml.HubSigner(entity_id, key_pem, cert_pem)


@dataclass
class Forgery:
    """How a hostile Response differs from an honest one; every default is the honest choice.

    An honest Response is signed by the hub and holds the identity provider's two assertions
    (authn, Matching Dataset), each signed by the identity provider and encrypted to us."""

    sign_assertion: bool = True
    sign_response: bool = True
    encrypt: bool = True
    assertion_signer: saml.HubSigner | None = None  # default: the identity provider
    response_signer: saml.HubSigner | None = None  # default: the hub
    assertion_sign_alg: str = C.RSA_SHA256
    assertion_digest_alg: str = C.SHA256
    response_sign_alg: str = C.RSA_SHA256
    response_digest_alg: str = C.SHA256
    encryption_cert_pem: str | None = None
    content_alg: object = None  # an xmlsec.Transform; None: AES-128-CBC
    key_transport: object = None  # an xmlsec.Transform; None: RSA-OAEP
    key_placement: str = "peer"  # Verify's: the EncryptedKey beside the EncryptedData
    response_in_response_to: str | None = "(flow)"
    destination: str | None = None
    response_issuer: str | None = None
    response_id: str | None = None
    # Changes both assertions' XML before they are signed (the identity provider itself said
    # it), or after signing and before encryption (someone else changed it).
    before_signing: Callable[[str], str] | None = None
    after_signing: Callable[[str], str] | None = None
    # Rearranges the Response body: gets the signed Matching Dataset assertion, returns the
    # elements that take its place (any saml:Assertion among them, or inside a
    # samlp:Extensions, gets encrypted). The authn assertion stays first.
    arrange: Callable[[etree._Element], list[etree._Element]] | None = None
    extra_assertions: int = 0
    # Leaves out one of the two assertions: "authn" or "mds".
    omit: str | None = None
    # Signs the Matching Dataset assertion with another key than the authn assertion's.
    mds_signer: saml.HubSigner | None = None
    response_issue_instant: datetime | None = None


def forge(stack, in_response_to: str | None, forgery: Forgery | None = None,
          identity: str = "jane", **spec_changes) -> str:
    """A Response built as `forgery` says, returned as the XML text (see `saml.encode`)."""
    forgery = forgery or Forgery()
    hub, idp = stack.hub.signer, stack.hub.idp
    spec = assertion_spec(stack, in_response_to, identity, **spec_changes)

    def signed(assertion_xml: str, signer: saml.HubSigner | None = None) -> etree._Element:
        if forgery.before_signing:
            assertion_xml = forgery.before_signing(assertion_xml)
        if forgery.sign_assertion:
            signer = signer or forgery.assertion_signer or idp
            assertion_xml = saml.sign(assertion_xml, signer.key_pem, signer.cert_pem,
                                      forgery.assertion_sign_alg, forgery.assertion_digest_alg)
        assertion_xml = _without_declaration(assertion_xml)
        if forgery.after_signing:
            assertion_xml = forgery.after_signing(assertion_xml)
        return etree.fromstring(assertion_xml.encode())

    authn = [] if forgery.omit == "authn" else [signed(spec.authn_xml())]
    mds = signed(spec.xml(), forgery.mds_signer)
    body = authn + ([] if forgery.omit == "mds" else
                    forgery.arrange(mds) if forgery.arrange else [mds])
    for _ in range(forgery.extra_assertions):
        other = assertion_spec(stack, in_response_to, identity, **spec_changes)
        body.append(etree.fromstring(_without_declaration(
            saml.sign(other.xml(), idp.key_pem, idp.cert_pem)).encode()))
    cert = forgery.encryption_cert_pem or stack.config.saml.encryption[0].cert_pem
    irt = in_response_to if forgery.response_in_response_to == "(flow)" \
        else forgery.response_in_response_to
    xml = saml.response_xml(forgery.response_issuer or hub.entity_id,
                            forgery.destination or stack.config.acs_url, irt, "",
                            response_id=forgery.response_id,
                            issue_instant=forgery.response_issue_instant)
    response = etree.fromstring(xml.encode())
    extensions = [e for e in body if e.tag == f"{{{C.NS_SAMLP}}}Extensions"]
    for element in extensions:
        response.insert(1, element)  # after Issuer, before Status
    for element in body:
        if element not in extensions:
            response.append(element)
    if forgery.encrypt:
        _encrypt_outermost_assertions(response, cert, forgery)
    xml = etree.tostring(response).decode()
    if forgery.sign_response:
        signer = forgery.response_signer or hub
        xml = _without_declaration(saml.sign(xml, signer.key_pem, signer.cert_pem,
                                             forgery.response_sign_alg,
                                             forgery.response_digest_alg))
    return xml


def _encrypt_outermost_assertions(response: etree._Element, cert_pem: str,
                                  forgery: Forgery) -> None:
    algorithms = {}
    if forgery.content_alg is not None:
        algorithms["content_alg"] = forgery.content_alg
    if forgery.key_transport is not None:
        algorithms["key_transport"] = forgery.key_transport
    algorithms["key_placement"] = forgery.key_placement
    for assertion in list(response.iter(f"{{{C.NS_SAML}}}Assertion")):
        if any(a.tag == f"{{{C.NS_SAML}}}Assertion" for a in assertion.iterancestors()):
            continue
        if assertion.getparent().tag == f"{{{C.NS_SAML}}}EncryptedAssertion":
            continue
        encrypted = etree.fromstring(saml.encrypt_assertion(
            etree.tostring(assertion).decode(), cert_pem, **algorithms).encode())
        assertion.getparent().replace(assertion, encrypted)


def _without_declaration(xml: str) -> str:
    return xml.split("?>", 1)[1] if xml.lstrip().startswith("<?xml") else xml


def signature_of(element: etree._Element) -> etree._Element:
    return element.find("ds:Signature", NS)


def without_signature(element: etree._Element) -> etree._Element:
    clone = copy.deepcopy(element)
    for signature in clone.findall("ds:Signature", NS):
        clone.remove(signature)
    return clone


def with_name_id(element: etree._Element, pid: str) -> etree._Element:
    """The same element, claiming to be someone else: what every wrapping attack is for."""
    element.find("saml:Subject/saml:NameID", NS).text = pid
    return element
