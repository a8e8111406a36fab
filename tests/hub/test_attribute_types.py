"""Attribute values typed with xsi:type from the ida namespace, as real Verify messages are,
pass the strict schema check (docs/adr/0004-verify-attribute-types.md): the Matching Dataset's
types, TXN_IPaddress's ida:IPAddressType, and the fraud attributes' ida:IDPFraudEventType and
ida:GPG45StatusType."""

from __future__ import annotations

from broker.devtools.stub_hub.identities import LEVEL_X_URI
from broker.devtools.stub_hub.saml import FraudEvent
from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, assertion_spec, forge
from tests.oidc_client import authorize


def test_the_stub_hub_types_values_as_verify_does(stack):
    xml = assertion_spec(stack, authorize(stack).authn_request_id).xml()
    assert 'xsi:type="ida:PersonNameType"' in xml
    assert 'xsi:type="ida:AddressType"' in xml


def test_the_authn_assertion_carries_the_residents_ip_address_as_verify_does(stack):
    xml = assertion_spec(stack, authorize(stack).authn_request_id).authn_xml()
    assert 'Name="TXN_IPaddress"' in xml and 'xsi:type="ida:IPAddressType"' in xml


def test_fraud_attributes_typed_as_verify_types_them_pass_the_schema(stack, send):
    """levelX with FECI_IDPFraudEventID and FECI_GPG45Status: refused for what it says (a fraud
    event), not for its attribute types."""
    outcome = send(lambda a: forge(stack, a.authn_request_id, level_uri=LEVEL_X_URI,
                                   fraud=FraudEvent()))
    assert outcome.page == "not-verified", outcome.log
    assert "not valid against the SAML schema" not in outcome.log


def test_values_typed_with_ida_types_sign_in(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id)))


def test_an_unknown_ida_type_is_rejected_by_the_schema_check(stack, send):
    def unknown_type(xml: str) -> str:
        return xml.replace('xsi:type="ida:PersonNameType"', 'xsi:type="ida:NoSuchType"')

    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(before_signing=unknown_type)))
    assert_rejected(outcome, "not valid against the SAML schema")


def test_markup_inside_a_typed_name_is_rejected_by_the_schema_check(stack, send):
    def markup(xml: str) -> str:
        return xml.replace(">Jane<", "><b>Ja</b>ne<", 1)

    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(before_signing=markup)))
    assert_rejected(outcome, "not valid against the SAML schema")
