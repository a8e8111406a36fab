"""Signatures: both the Response and the Assertion are signed, by the hub's key, with SHA-256."""

from __future__ import annotations

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, forge, untrusted_signer


def test_an_honest_response_signs_the_resident_in(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id)))


def test_unsigned_response_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(sign_response=False)))
    assert_rejected(outcome, "Response has no signature")


def test_unsigned_assertion_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(sign_assertion=False)))
    assert_rejected(outcome, "Assertion has no signature")


def test_assertion_signed_by_an_untrusted_key_is_rejected(stack, send):
    forgery = Forgery(assertion_signer=untrusted_signer(stack.hub.idp.entity_id))
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Assertion signature does not verify with a trusted key")


def test_response_signed_by_an_untrusted_key_is_rejected(stack, send):
    forgery = Forgery(response_signer=untrusted_signer(stack.hub.entity_id))
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Response signature does not verify with a trusted key")


def test_failure_status_signed_by_an_untrusted_key_is_rejected(stack, send):
    from broker.devtools.stub_hub import saml

    signer = untrusted_signer(stack.hub.entity_id)
    outcome = send(lambda a: saml.failure_response(signer, "cancel", a.authn_request_id,
                                                   stack.config.acs_url))
    assert_rejected(outcome, "Response signature does not verify with a trusted key")


def test_unsigned_failure_status_is_rejected(stack, send):
    from broker.devtools.stub_hub import saml

    outcome = send(lambda a: saml.response_xml(
        stack.hub.entity_id, stack.config.acs_url, a.authn_request_id, "",
        saml.STATUS + "Responder", saml.STATUS + "AuthnFailed"))
    assert_rejected(outcome, "Response has no signature")


def test_sha1_signature_on_the_assertion_is_rejected(stack, send):
    forgery = Forgery(assertion_sign_alg=C.RSA_SHA1)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Assertion signature method")


def test_sha1_digest_on_the_assertion_is_rejected(stack, send):
    forgery = Forgery(assertion_digest_alg=C.SHA1)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Assertion digest method")


def test_sha1_signature_on_the_response_is_rejected(stack, send):
    forgery = Forgery(response_sign_alg=C.RSA_SHA1)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Response signature method")


def test_sha1_digest_on_the_response_is_rejected(stack, send):
    forgery = Forgery(response_digest_alg=C.SHA1)
    outcome = send(lambda a: forge(stack, a.authn_request_id, forgery))
    assert_rejected(outcome, "Response digest method")


def test_sha1_signature_on_a_failure_status_is_rejected(stack, send):
    from broker.devtools.stub_hub import saml

    outcome = send(lambda a: saml.sign(saml.response_xml(
        stack.hub.entity_id, stack.config.acs_url, a.authn_request_id, "",
        saml.STATUS + "Responder", saml.STATUS + "AuthnFailed"),
        stack.hub.signing_key_pem, stack.hub.signing_cert_pem, C.RSA_SHA1, C.SHA1))
    assert_rejected(outcome, "Response signature method")
