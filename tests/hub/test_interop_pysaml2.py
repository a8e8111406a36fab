"""Interoperability with an independent SAML implementation: pysaml2 (with Debian's xmlsec1).

pysaml2 plays an identity provider: it signs the two assertions, which the stub hub encrypts and
wraps in its signed Response, and the broker accepts them. And the reverse: pysaml2 verifies
our metadata's signature and parses and verifies the signed AuthnRequest the broker sends.
"""

from __future__ import annotations

import base64
import shutil

import pytest
import requests
import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from saml2 import BINDING_HTTP_POST
from saml2.config import IdPConfig
from saml2.response import IncorrectlySigned
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.server import Server

from broker.devtools.stub_hub import saml
from broker.identity import LevelOfAssurance
from tests.hub.conftest import Outcome, assert_rejected, assert_signed_in
from tests.hub_messages import assertion_spec
from tests.oidc_client import authorize, post_to_acs


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        pytest.fail("pysaml2 needs Debian's xmlsec1: run the tests with scripts/with-test-services")
    return path


@pytest.fixture
def pysaml2_hub(stack, keys_dir, tmp_path, xmlsec1) -> Server:
    """pysaml2 as an identity provider of the federation, with that provider's key and entity
    id; it reads our published metadata (it checks the party it answers is in there)."""
    sp_metadata = tmp_path / "broker-sp-metadata.xml"
    sp_metadata.write_bytes(requests.get(f"{stack.broker_url}/saml/metadata", timeout=10).content)
    config = IdPConfig()
    config.load({
        "entityid": stack.hub.idp.entity_id,
        "key_file": str(keys_dir / "idp-signing.key"),
        "cert_file": str(keys_dir / "idp-signing.crt"),
        "xmlsec_binary": xmlsec1,
        "metadata": {"local": [str(sp_metadata)]},
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(stack.hub.sso_url, BINDING_HTTP_POST)]},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "want_authn_requests_signed": True,
            "policy": {"default": {"lifetime": {"minutes": 5},
                                   "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}},
        }},
    })
    return Server(config=config)


def _signed_by_pysaml2(idp: Server, assertion_xml: str) -> str:
    """The assertion signed by pysaml2's own signing path (the xmlsec1 command line), from a
    signature template: enveloped, exclusive C14N, RSA-SHA256 over SHA-256."""
    root = etree.fromstring(assertion_xml.encode())
    template = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N,
                                      xmlsec.Transform.RSA_SHA256, ns="ds")
    root.find(f"{{{C.NS_SAML}}}Issuer").addnext(template)
    reference = xmlsec.template.add_reference(template, xmlsec.Transform.SHA256,
                                              uri=f"#{root.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    signed = idp.sec.sign_statement(etree.tostring(root).decode(),
                                    node_name=f"{C.NS_SAML}:Assertion", node_id=root.get("ID"))
    return etree.tostring(etree.fromstring(signed.encode())).decode()


def _pysaml2_response(stack, idp: Server, in_response_to: str) -> str:
    """pysaml2 signs the identity provider's two assertions (authn, Matching Dataset); the stub
    hub encrypts each to us and signs the Response around them, as Verify's hub does."""
    spec = assertion_spec(stack, in_response_to)
    encryption_cert = stack.config.saml.encryption[0].cert_pem
    body = "".join(saml.encrypt_assertion(_signed_by_pysaml2(idp, xml), encryption_cert)
                   for xml in (spec.authn_xml(), spec.xml()))
    response = saml.response_xml(stack.hub.entity_id, stack.config.acs_url, in_response_to, body)
    signed = saml.sign(response, stack.hub.signing_key_pem, stack.hub.signing_cert_pem)
    return base64.b64encode(signed.encode()).decode()


def test_broker_accepts_assertions_signed_by_pysaml2_as_an_identity_provider(
        stack, pysaml2_hub, broker_log):
    attempt = authorize(stack)
    broker_log.clear()
    answer = post_to_acs(stack, _pysaml2_response(stack, pysaml2_hub, attempt.authn_request_id),
                         attempt.relay_state)
    assert_signed_in(Outcome(answer, attempt, broker_log.text))


def test_broker_refuses_pysaml2s_assertions_when_its_key_is_not_the_identity_providers(
        stack, keys_dir, tmp_path, xmlsec1, broker_log):
    """The same pysaml2, signing with the hub's key: not the identity provider's, refused."""
    sp_metadata = tmp_path / "sp.xml"
    sp_metadata.write_bytes(requests.get(f"{stack.broker_url}/saml/metadata", timeout=10).content)
    config = IdPConfig()
    config.load({"entityid": stack.hub.idp.entity_id,
                 "key_file": str(keys_dir / "hub-signing.key"),
                 "cert_file": str(keys_dir / "hub-signing.crt"), "xmlsec_binary": xmlsec1,
                 "metadata": {"local": [str(sp_metadata)]},
                 "service": {"idp": {"endpoints": {"single_sign_on_service": [
                     (stack.hub.sso_url, BINDING_HTTP_POST)]}}}})
    attempt = authorize(stack)
    broker_log.clear()
    answer = post_to_acs(stack, _pysaml2_response(stack, Server(config=config),
                                                  attempt.authn_request_id), attempt.relay_state)
    assert_rejected(Outcome(answer, attempt, broker_log.text),
                    "Assertion signature does not verify with a trusted key")


def test_pysaml2_verifies_and_parses_the_brokers_authn_request(stack, pysaml2_hub):
    attempt = authorize(stack, acr_values=LevelOfAssurance.LEVEL_2.uri)
    parsed = pysaml2_hub.parse_authn_request(attempt.saml_request, BINDING_HTTP_POST)
    request = parsed.message
    assert request.id == attempt.authn_request_id
    assert request.issuer.text == stack.config.saml.entity_id
    assert request.destination == stack.hub.sso_url
    assert request.signature is not None
    assert request.requested_authn_context.comparison == "minimum"
    assert request.requested_authn_context.authn_context_class_ref[0].text == \
        LevelOfAssurance.LEVEL_2.uri
    assert request.is_passive is None and request.scoping is None
    assert request.assertion_consumer_service_url is None


def test_pysaml2_refuses_an_authn_request_altered_after_signing(stack, pysaml2_hub):
    attempt = authorize(stack)
    xml = base64.b64decode(attempt.saml_request).decode()
    altered = base64.b64encode(xml.replace('Comparison="minimum"', 'Comparison="exact"')
                               .encode()).decode()
    with pytest.raises(IncorrectlySigned):
        pysaml2_hub.parse_authn_request(altered, BINDING_HTTP_POST)


def test_pysaml2_verifies_the_signature_on_the_brokers_metadata(stack, pysaml2_hub, tmp_path):
    metadata = requests.get(f"{stack.broker_url}/saml/metadata", timeout=10).text
    signing_cert = tmp_path / "broker-signing.crt"
    signing_cert.write_text(stack.config.saml.signing.cert_pem)
    assert pysaml2_hub.sec.verify_signature(
        metadata, cert_file=str(signing_cert),
        node_name="urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")


def test_pysaml2_reads_our_keys_and_acs_from_the_metadata(stack, pysaml2_hub):
    entity_id = stack.config.saml.entity_id
    acs = pysaml2_hub.metadata.assertion_consumer_service(entity_id, BINDING_HTTP_POST)
    assert [endpoint["location"] for endpoint in acs] == [stack.config.acs_url]
    assert len(pysaml2_hub.metadata.certs(entity_id, "spsso", "encryption")) == 1
    assert len(pysaml2_hub.metadata.certs(entity_id, "spsso", "signing")) == 1
