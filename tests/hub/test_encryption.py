"""Encryption of the assertion: RSA-OAEP key transport and AES content encryption only."""

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
