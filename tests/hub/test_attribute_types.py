"""Matching Dataset values typed with xsi:type from the ida namespace, as real Verify messages
are, pass python3-saml's strict schema check (docs/adr/0004-verify-attribute-types.md)."""

from __future__ import annotations

from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub_messages import Forgery, assertion_spec, forge
from tests.oidc_client import authorize


def test_the_stub_hub_types_values_as_verify_does(stack):
    xml = assertion_spec(stack, authorize(stack).authn_request_id).xml()
    assert 'xsi:type="ida:PersonNameType"' in xml
    assert 'xsi:type="ida:AddressType"' in xml


def test_values_typed_with_ida_types_sign_in(stack, send):
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id)))


def test_an_unknown_ida_type_is_rejected_by_the_schema_check(stack, send):
    def unknown_type(xml: str) -> str:
        return xml.replace('xsi:type="ida:PersonNameType"', 'xsi:type="ida:NoSuchType"')

    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(before_signing=unknown_type)))
    assert_rejected(outcome, "Not match the saml-schema-protocol-2.0.xsd")


def test_markup_inside_a_typed_name_is_rejected_by_the_schema_check(stack, send):
    def markup(xml: str) -> str:
        return xml.replace(">Jane<", "><b>Ja</b>ne<", 1)

    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(before_signing=markup)))
    assert_rejected(outcome, "Not match the saml-schema-protocol-2.0.xsd")
