"""Encryption of the assertions: RSA-OAEP key transport and AES content encryption only, with the
EncryptedKey where GOV.UK Verify's libraries put it (beside the EncryptedData) or inside it."""

from __future__ import annotations

import pytest
import xmlsec

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
