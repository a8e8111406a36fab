"""Our SP metadata at /saml/metadata: signed, with the keys the hub needs to trust us."""

from __future__ import annotations

import requests
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.devtools.keys import self_signed_pair
from broker.hub.federation import MD
from broker.hub.sp_metadata import sp_metadata, strip_pem

NS = {"md": MD, "ds": C.NS_DS}


def _fetch(stack) -> etree._Element:
    response = requests.get(f"{stack.broker_url}/saml/metadata", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/samlmetadata+xml")
    return etree.fromstring(response.content)


def _certs(root: etree._Element, use: str) -> list[str]:
    return [c.text for c in root.xpath(
        f'md:SPSSODescriptor/md:KeyDescriptor[@use="{use}"]//ds:X509Certificate', namespaces=NS)]


def test_sp_metadata_is_signed_by_our_signing_key(stack):
    root = _fetch(stack)
    assert OneLogin_Saml2_Utils.validate_metadata_sign(
        root, cert=stack.config.saml.signing.cert_pem, raise_exceptions=True)


def test_sp_metadata_signature_uses_sha256(stack):
    root = _fetch(stack)
    assert root.find(".//ds:SignatureMethod", NS).get("Algorithm") == C.RSA_SHA256
    assert root.find(".//ds:DigestMethod", NS).get("Algorithm") == C.SHA256


def test_sp_metadata_names_our_entity_id_and_post_acs(stack):
    root = _fetch(stack)
    assert root.get("entityID") == stack.config.saml.entity_id
    acs = root.findall("md:SPSSODescriptor/md:AssertionConsumerService", NS)
    assert [(a.get("Binding"), a.get("Location")) for a in acs] == [
        (C.BINDING_HTTP_POST, stack.config.acs_url)]


def test_sp_metadata_requires_signed_requests_and_assertions(stack):
    descriptor = _fetch(stack).find("md:SPSSODescriptor", NS)
    assert descriptor.get("AuthnRequestsSigned") == "true"
    assert descriptor.get("WantAssertionsSigned") == "true"


def test_sp_metadata_publishes_one_signing_and_one_encryption_key(stack):
    root = _fetch(stack)
    assert _certs(root, "signing") == [strip_pem(stack.config.saml.signing.cert_pem)]
    assert _certs(root, "encryption") == [strip_pem(stack.config.saml.encryption[0].cert_pem)]


def test_sp_metadata_publishes_both_encryption_keys_during_a_rotation(stack, reconfigured,
                                                                      keys_dir, tmp_path):
    key_pem, cert_pem = self_signed_pair("next encryption key")
    (tmp_path / "next.key").write_text(key_pem)
    (tmp_path / "next.crt").write_text(cert_pem)
    config = reconfigured(**{"saml.encryption": [
        {"key": str(keys_dir / "broker-saml-encryption.key"),
         "cert": str(keys_dir / "broker-saml-encryption.crt")},
        {"key": str(tmp_path / "next.key"), "cert": str(tmp_path / "next.crt")}]})
    root = etree.fromstring(sp_metadata(config).encode())
    assert _certs(root, "encryption") == [strip_pem(p.cert_pem) for p in config.saml.encryption]
    assert len(_certs(root, "encryption")) == 2


def test_sp_metadata_publishes_the_next_signing_key_beside_the_current_one(
        stack, reconfigured, tmp_path):
    _, cert_pem = self_signed_pair("next signing key")
    (tmp_path / "next-signing.crt").write_text(cert_pem)
    config = reconfigured(**{"saml.signing_next": {"cert": str(tmp_path / "next-signing.crt")}})
    root = etree.fromstring(sp_metadata(config).encode())
    assert _certs(root, "signing") == [strip_pem(config.saml.signing.cert_pem),
                                       strip_pem(cert_pem)]
    assert OneLogin_Saml2_Utils.validate_metadata_sign(
        root, cert=config.saml.signing.cert_pem, raise_exceptions=True)
