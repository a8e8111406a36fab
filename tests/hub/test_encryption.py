"""Encryption of the assertions: RSA-OAEP key transport and AES content encryption only, with the
EncryptedKey where GOV.UK Verify's libraries put it (beside the EncryptedData) or inside it."""

from __future__ import annotations

import base64
import copy

import pytest
import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.devtools.keys import self_signed_pair
from broker.devtools.stub_hub import saml
from broker.hub import assertions
from broker.hub.outcomes import ResponseRejected
from tests import hub_messages
from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, forge


@pytest.mark.parametrize("content_alg", ["AES128", "AES256", "AES128_GCM", "AES256_GCM"])
def test_aes_content_encryption_is_accepted(stack, send, content_alg):
    forgery = Forgery(content_alg=getattr(xmlsec.Transform, content_alg))
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, forgery)))


def test_rsa_pkcs1_v1_5_key_transport_is_rejected(stack, send):
    forgery = Forgery(key_transport=xmlsec.Transform.RSA_PKCS1)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "key transport")


def test_triple_des_content_encryption_is_rejected(stack, send):
    forgery = Forgery(content_alg=xmlsec.Transform.DES3)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "content encryption")


def test_the_encrypted_key_beside_the_data_as_verify_places_it_is_read(stack, send):
    forgery = Forgery(key_placement="peer")
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, forgery)))


def test_the_encrypted_key_inside_the_datas_key_info_is_read(stack, send):
    forgery = Forgery(key_placement="inline")
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id, forgery)))


def test_a_peer_key_transported_with_pkcs1_v1_5_is_rejected(stack, send):
    forgery = Forgery(key_placement="peer", key_transport=xmlsec.Transform.RSA_PKCS1)
    assert_rejected(send(lambda a: forge(stack, a.authn_request_id, forgery)), "key transport")


# The two steps of decryption, on one EncryptedAssertion: which key unwraps the AES key, and
# whether that key is the one the content's algorithm takes, are decided by the broker.

XENC = "http://www.w3.org/2001/04/xmlenc#"


def _encrypted_assertion(stack, **options) -> etree._Element:
    assertion = hub_messages.assertion_spec(stack, "_request").xml()
    xml = saml.encrypt_assertion(assertion.split("?>", 1)[-1],
                                 stack.config.saml.encryption[0].cert_pem, **options)
    return etree.fromstring(xml.encode())


def test_an_assertion_encrypted_to_us_decrypts(stack):
    decrypted = assertions.decrypt(_encrypted_assertion(stack), stack.config)
    assert decrypted.tag == f"{{{C.NS_SAML}}}Assertion"


def test_an_encrypted_key_for_another_recipient_before_ours_is_passed_over(stack):
    element = _encrypted_assertion(stack)
    other = copy.deepcopy(element.find(f"{{{XENC}}}EncryptedKey"))
    value = other.find(f"{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    value.text = base64.b64encode(b"\x01" * 256).decode()
    element.find(f"{{{XENC}}}EncryptedData").addnext(other)
    assert assertions.decrypt(element, stack.config).tag == f"{{{C.NS_SAML}}}Assertion"


def test_an_encrypted_assertion_without_an_encrypted_key_is_rejected(stack):
    element = _encrypted_assertion(stack)
    element.remove(element.find(f"{{{XENC}}}EncryptedKey"))
    with pytest.raises(ResponseRejected, match="no EncryptedKey"):
        assertions.decrypt(element, stack.config)


def test_a_key_of_the_wrong_length_for_the_content_algorithm_is_rejected(stack):
    element = _encrypted_assertion(stack, content_alg=xmlsec.Transform.AES256)
    method = element.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}EncryptionMethod")
    method.set("Algorithm", XENC + "aes128-cbc")  # a 32-byte key offered to AES-128
    with pytest.raises(ResponseRejected, match="does not hold a key"):
        assertions.decrypt(element, stack.config)


def test_an_assertion_for_a_key_we_do_not_hold_is_rejected(stack):
    _, other_cert = self_signed_pair("someone-else")
    xml = saml.encrypt_assertion(
        hub_messages.assertion_spec(stack, "_request").xml().split("?>", 1)[-1], other_cert)
    with pytest.raises(ResponseRejected, match="with our keys"):
        assertions.decrypt(etree.fromstring(xml.encode()), stack.config)


def test_more_encrypted_keys_than_recipients_plausibly_need_are_rejected(stack):
    element = _encrypted_assertion(stack)
    ours = element.find(f"{{{XENC}}}EncryptedKey")
    for _ in range(assertions.MAX_ENCRYPTED_KEYS):
        ours.addprevious(copy.deepcopy(ours))
    with pytest.raises(ResponseRejected, match="too many EncryptedKeys"):
        assertions.decrypt(element, stack.config)


def test_cipher_data_referred_to_by_uri_is_never_fetched(stack, tmp_path):
    element = _encrypted_assertion(stack)
    cipher_data = element.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData")
    for child in list(cipher_data):
        cipher_data.remove(child)
    etree.SubElement(cipher_data, f"{{{XENC}}}CipherReference",
                     URI=(tmp_path / "cipher").as_uri())
    with pytest.raises(ResponseRejected, match="cipher data elsewhere"):
        assertions.decrypt(element, stack.config)
