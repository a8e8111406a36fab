"""Metadata signature wrapping: a forged document around the federation's genuine signed one.

Each forgery keeps a genuine, verifying signature by the federation's own metadata key somewhere
in the document, and puts an attacker's certificate and a far `validUntil` where a careless
reader looks. Every one must be refused, and a broker that already holds a good copy keeps it.
"""

from __future__ import annotations

import copy

import pytest
import responses
import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.devtools.keys import self_signed_pair
from broker.devtools.stub_hub import saml
from broker.hub.federation import MD, MetadataError, parse_hub_metadata
from broker.hub.metadata_source import HubMetadataSource
from broker.hub.sp_metadata import strip_pem
from tests.hub.federation import HUB_ENTITY_ID, METADATA_URL, Clock, hub_config, metadata_xml

NS = {"md": MD, "ds": C.NS_DS}


@pytest.fixture
def keys(keys_dir):
    return keys_dir


@pytest.fixture(scope="module")
def attacker():
    return self_signed_pair("an attacker's identity provider key", days=2)


def genuine(keys) -> str:
    return metadata_xml(keys)


def config(keys):
    return hub_config(keys)


def attackers_root(attacker_cert: str, root_id: str | None = None) -> etree._Element:
    """A new, unsigned root trusting the attacker's key as an identity provider until 2099."""
    id_attr = f' ID="{root_id}"' if root_id else ""
    return etree.fromstring(
        f'<md:EntitiesDescriptor xmlns:md="{MD}" xmlns:ds="{C.NS_DS}"'
        f' validUntil="2099-01-01T00:00:00Z"{id_attr}>'
        '<md:EntityDescriptor entityID="https://idp-one.example.test/">'
        f'<md:IDPSSODescriptor protocolSupportEnumeration="{C.NS_SAMLP}">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{strip_pem(attacker_cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        "</md:KeyDescriptor>"
        f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_POST}" '
        'Location="https://evil.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
        "</md:EntitiesDescriptor>".encode())


def wrapped(keys, attacker_cert: str, where: str, same_id: bool = False) -> bytes:
    """The genuine signature moved onto the attacker's root; the genuine element, unsigned,
    tucked into md:Extensions (`where="extensions"`) or appended after (`where="after"`)."""
    original = etree.fromstring(genuine(keys).encode())
    signature = original.find("ds:Signature", NS)
    original.remove(signature)
    root = attackers_root(attacker_cert, original.get("ID") if same_id else None)
    root.insert(0, signature)
    if where == "extensions":
        extensions = etree.SubElement(root, f"{{{MD}}}Extensions")
        root.insert(1, extensions)
        extensions.append(original)
    else:
        root.append(original)
    return etree.tostring(root)


def sign_with_xmlsec(element: etree._Element, key_pem: str, cert_pem: str, uri: str,
                     sign_alg=xmlsec.Transform.RSA_SHA256,
                     digest_alg=xmlsec.Transform.SHA256) -> None:
    """An enveloped signature on `element` whose Reference is `uri`, made by xmlsec."""
    signature = xmlsec.template.create(element, xmlsec.Transform.EXCL_C14N, sign_alg, ns="ds")
    element.insert(0, signature)
    reference = xmlsec.template.add_reference(signature, digest_alg, uri=uri)
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(element.getroottree().getroot(), ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM, None)
    context.key.load_cert_from_memory(cert_pem, xmlsec.KeyFormat.PEM)
    context.sign(signature)


def unsigned_genuine(keys, attacker_cert: str | None = None) -> etree._Element:
    root = etree.fromstring(genuine(keys).encode())
    root.remove(root.find("ds:Signature", NS))
    if attacker_cert:
        root.set("validUntil", "2099-01-01T00:00:00Z")
    return root


def federation_key(keys) -> str:
    return (keys / "federation-metadata-signing.key").read_text()


def federation_cert(keys) -> str:
    return (keys / "federation-metadata-signing.crt").read_text()


def refused(xml: bytes, keys, match: str) -> None:
    with pytest.raises(MetadataError, match=match):
        parse_hub_metadata(xml, config(keys))


def test_the_genuine_document_is_accepted(keys):
    metadata = parse_hub_metadata(genuine(keys).encode(), config(keys))
    assert metadata.identity_provider("https://idp-one.example.test/") is not None


def test_signature_moved_to_a_new_root_with_the_original_in_extensions_is_refused(
        keys, attacker):
    refused(wrapped(keys, attacker[1], "extensions"), keys, "exactly one|does not reference")


def test_signature_moved_to_a_new_root_with_the_original_appended_is_refused(keys, attacker):
    refused(wrapped(keys, attacker[1], "after"), keys, "does not reference")


def test_a_new_root_that_takes_the_original_id_is_refused(keys, attacker):
    refused(wrapped(keys, attacker[1], "extensions", same_id=True), keys,
            "ID is used by another element")


def test_metadata_signed_with_rsa_sha1_is_refused(keys):
    root = unsigned_genuine(keys)
    xml = saml.sign(etree.tostring(root).decode(), federation_key(keys),
                    federation_cert(keys), C.RSA_SHA1, C.SHA1)
    refused(xml.encode(), keys, "rsa-sha1")


def test_metadata_with_a_sha1_digest_is_refused(keys):
    root = unsigned_genuine(keys)
    xml = saml.sign(etree.tostring(root).decode(), federation_key(keys),
                    federation_cert(keys), C.RSA_SHA256, C.SHA1)
    refused(xml.encode(), keys, "digest method")


def test_a_signature_covering_only_the_idp_descriptor_leaves_valid_until_unsigned(keys):
    root = unsigned_genuine(keys, attacker_cert="yes")  # validUntil 2099, after signing too
    descriptor = root.find("md:EntityDescriptor/md:IDPSSODescriptor", NS)
    descriptor.set("ID", "_descriptor")
    sign_with_xmlsec(descriptor, federation_key(keys), federation_cert(keys),
                     "#_descriptor")
    refused(etree.tostring(root), keys, "not on the metadata element itself")


def test_a_root_signature_that_references_a_child_is_refused(keys):
    root = unsigned_genuine(keys, attacker_cert="yes")
    root.find("md:EntityDescriptor/md:IDPSSODescriptor", NS).set("ID", "_descriptor")
    sign_with_xmlsec(root, federation_key(keys), federation_cert(keys), "#_descriptor")
    refused(etree.tostring(root), keys, "does not reference the metadata element")


def test_a_second_signature_beside_the_root_one_is_refused(keys):
    root = etree.fromstring(genuine(keys).encode())
    descriptor = root.find("md:EntityDescriptor/md:IDPSSODescriptor", NS)
    descriptor.set("ID", "_descriptor")
    extra = copy.deepcopy(root)  # re-signed below: the root's own signature then breaks; build
    extra.remove(extra.find("ds:Signature", NS))  # a document where both verify instead
    extra.find("md:EntityDescriptor/md:IDPSSODescriptor", NS).set("ID", "_descriptor")
    sign_with_xmlsec(extra.find("md:EntityDescriptor/md:IDPSSODescriptor", NS),
                     federation_key(keys),
                     federation_cert(keys), "#_descriptor")
    sign_with_xmlsec(extra, federation_key(keys), federation_cert(keys),
                     f"#{extra.get('ID')}")
    refused(etree.tostring(extra), keys, "exactly one signature")


def test_a_root_signature_with_an_empty_reference_is_accepted(keys):
    root = unsigned_genuine(keys)
    sign_with_xmlsec(root, federation_key(keys), federation_cert(keys), "")
    assert parse_hub_metadata(etree.tostring(root), config(keys)).entity_id == HUB_ENTITY_ID


# The same forgeries, served by the federation's URL to a broker that holds a good copy.

def sha1_signed(keys) -> bytes:
    return saml.sign(etree.tostring(unsigned_genuine(keys)).decode(), federation_key(keys),
                     federation_cert(keys), C.RSA_SHA1, C.SHA1).encode()


def partially_signed(keys) -> bytes:
    root = unsigned_genuine(keys, attacker_cert="yes")
    descriptor = root.find("md:EntityDescriptor/md:IDPSSODescriptor", NS)
    descriptor.set("ID", "_descriptor")
    sign_with_xmlsec(descriptor, federation_key(keys), federation_cert(keys),
                     "#_descriptor")
    return etree.tostring(root)


@pytest.mark.parametrize("forgery", ["extensions", "after", "sha1", "partial"])
@responses.activate
def test_a_forged_refresh_is_refused_and_the_last_good_copy_kept(keys, attacker, shared_state,
                                                                 forgery):
    config = hub_config(keys)
    clock = Clock()
    responses.get(METADATA_URL, body=genuine(keys))
    source = HubMetadataSource(config, shared_state, clock)
    good = source.current()
    body = {"extensions": lambda: wrapped(keys, attacker[1], "extensions"),
            "after": lambda: wrapped(keys, attacker[1], "after"),
            "sha1": lambda: sha1_signed(keys),
            "partial": lambda: partially_signed(keys)}[forgery]()
    responses.replace(responses.GET, METADATA_URL, body=body)
    clock.now += config.refresh_seconds + 1
    metadata = HubMetadataSource(config, shared_state, clock).current()
    assert metadata.signing_certs == good.signing_certs
    assert metadata.valid_until == good.valid_until
    assert strip_pem(attacker[1]) not in shared_state.get_hub_metadata()["xml"]
    status = source.status()
    assert status.usable and not status.healthy
    assert "signature" in status.last_error
