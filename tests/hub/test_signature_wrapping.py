"""XML signature wrapping: the eight variants in SAML Raider's catalogue (XSW1-XSW8).

Each takes a genuinely hub-signed message and moves the signed element so that a naive
verifier checks one element while the application reads another, claiming another resident.
For XSW3-XSW8 the Response around the wrapped assertions is itself validly signed by the hub,
so only the broker's assertion-level defences stand between the forgery and a sign-in: the
count of encrypted assertions directly in the Response, the SAML schema (no assertion inside an
assertion or a signature), and each assertion's one signature referencing that assertion.
"""

from __future__ import annotations

import copy

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.devtools.stub_hub import saml
from tests.hub.conftest import assert_rejected
from tests.hub_messages import Forgery, forge, signature_of, with_name_id, without_signature

ATTACKER_PID = "pid-of-someone-else"


def _forged_response_wrapping(stack, attempt, place_original) -> str:
    """XSW1/XSW2: an evil Response with a new ID carrying the hub's Signature of the original."""
    original = etree.fromstring(forge(stack, attempt.authn_request_id).encode())
    evil = copy.deepcopy(original)
    evil.set("ID", saml.new_id())
    place_original(evil, without_signature(original))
    return etree.tostring(evil).decode()


def test_xsw1_original_response_inside_the_signature_is_rejected(stack, send):
    def inside_signature(evil, original):
        signature_of(evil).append(original)

    outcome = send(lambda a: _forged_response_wrapping(stack, a, inside_signature))
    assert_rejected(outcome, "the Response signature does not reference the Response element")


def test_xsw2_original_response_beside_the_signature_is_rejected(stack, send):
    def before_signature(evil, original):
        signature_of(evil).addprevious(original)

    outcome = send(lambda a: _forged_response_wrapping(stack, a, before_signature))
    assert_rejected(outcome, "the Response signature does not reference the Response element")


def _wrapped(stack, attempt, arrange) -> str:
    return forge(stack, attempt.authn_request_id, Forgery(arrange=arrange))


def test_xsw3_evil_assertion_before_the_signed_one_is_rejected(stack, send):
    def arrange(signed):
        evil = with_name_id(without_signature(signed), ATTACKER_PID)
        evil.set("ID", saml.new_id())
        return [evil, signed]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "expected two encrypted assertions, found 3")


def test_xsw4_signed_assertion_inside_an_evil_one_is_rejected(stack, send):
    def arrange(signed):
        evil = with_name_id(without_signature(signed), ATTACKER_PID)
        evil.set("ID", saml.new_id())
        evil.append(signed)
        return [evil]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "not valid against the SAML schema")


def test_xsw5_evil_assertion_keeps_the_signature_and_the_original_follows_is_rejected(
        stack, send):
    def arrange(signed):
        evil = with_name_id(copy.deepcopy(signed), ATTACKER_PID)
        return [evil, without_signature(signed)]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "expected two encrypted assertions, found 3")


def test_xsw6_original_assertion_inside_the_evil_assertions_signature_is_rejected(stack, send):
    def arrange(signed):
        evil = with_name_id(copy.deepcopy(signed), ATTACKER_PID)
        signature_of(evil).append(without_signature(signed))
        return [evil]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "not valid against the SAML schema")


def test_xsw7_signed_assertion_hidden_in_extensions_is_rejected(stack, send):
    def arrange(signed):
        extensions = etree.Element(f"{{{C.NS_SAMLP}}}Extensions", nsmap={"samlp": C.NS_SAMLP})
        extensions.append(copy.deepcopy(signed))
        evil = with_name_id(without_signature(signed), ATTACKER_PID)
        return [extensions, evil]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "expected two encrypted assertions, found 3")


def test_xsw8_original_assertion_in_a_signature_object_is_rejected(stack, send):
    def arrange(signed):
        evil = with_name_id(copy.deepcopy(signed), ATTACKER_PID)
        holder = etree.SubElement(signature_of(evil), f"{{{C.NS_DS}}}Object")
        holder.append(without_signature(signed))
        return [evil]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "not valid against the SAML schema")


def test_modified_signed_assertion_alone_is_rejected(stack, send):
    """The control for XSW5-XSW8: changing the signed assertion breaks its signature."""

    def arrange(signed):
        return [with_name_id(signed, ATTACKER_PID)]

    assert_rejected(send(lambda a: _wrapped(stack, a, arrange)),
                    "Assertion signature does not verify with a trusted key")

