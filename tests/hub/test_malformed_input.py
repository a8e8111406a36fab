"""Malformed or oversized input at the assertion consumer service ends on the 'could not check
your sign-in' page (or the too-large page), never a 500."""

from __future__ import annotations

import base64

import pytest

from broker.devtools.stub_hub import saml
from broker.web.pages import PAGES
from tests.hub.conftest import assert_rejected
from tests.hub_messages import Forgery, forge
from tests.oidc_client import authorize, post_to_acs


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _response(stack, attempt, inner: str, extra_attributes: str = "") -> str:
    return _b64(f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
                f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" '
                f'IssueInstant="2026-01-01T00:00:00Z" InResponseTo="{attempt.authn_request_id}" '
                f'Destination="{stack.config.acs_url}"{extra_attributes}>'
                f"<saml:Issuer>{stack.hub.entity_id}</saml:Issuer>{inner}</samlp:Response>")


MALFORMED = {
    "not base64": lambda stack, a: "this is %%% not base64",
    "not XML": lambda stack, a: _b64("hello, hub"),
    "truncated XML": lambda stack, a: _b64("<samlp:Response xmlns:samlp="),
    "not a Response": lambda stack, a: _b64("<AuthnRequest/>"),
    "no Status": lambda stack, a: _response(stack, a, ""),
    "StatusCode without a Value": lambda stack, a: _response(
        stack, a, "<samlp:Status><samlp:StatusCode/></samlp:Status>"),
    "success with no assertion": lambda stack, a: _response(
        stack, a, '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:'
                  'Success"/></samlp:Status>'),
    "empty EncryptedAssertion": lambda stack, a: _response(
        stack, a, '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:'
                  'Success"/></samlp:Status><saml:EncryptedAssertion/>'),
    "garbage in EncryptedData": lambda stack, a: saml.encode(forge(
        stack, a.authn_request_id,
        Forgery(arrange=lambda signed: [signed])).replace("CipherValue>", "CipherValue>AAAA", 1)),
    "not a SAML time": lambda stack, a: saml.encode(forge(
        stack, a.authn_request_id, Forgery(before_signing=lambda xml: xml.replace(
            'NotOnOrAfter="', 'NotOnOrAfter="yesterday', 1)))),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_response_is_rejected_without_an_error(stack, kind):
    attempt = authorize(stack)
    response = post_to_acs(stack, MALFORMED[kind](stack, attempt), attempt.relay_state)
    assert response.status_code == 400, response.text
    assert PAGES["rejected"].title in response.text


def test_response_larger_than_allowed_is_rejected(stack, send):
    padding = "<!--" + "x" * (300 * 1024) + "-->"
    outcome = send(lambda a: forge(stack, a.authn_request_id) + padding)
    assert_rejected(outcome, "larger than allowed")


def test_missing_saml_response_ends_on_the_expired_page(stack):
    attempt = authorize(stack)
    response = post_to_acs(stack, "", attempt.relay_state)
    assert response.status_code == 400
    assert PAGES["session-expired"].title in response.text
