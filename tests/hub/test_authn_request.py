"""The AuthnRequest the broker sends, per GOV.UK Verify's profile."""

from __future__ import annotations

import base64

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.identity import LevelOfAssurance
from tests.oidc_client import authorize

NS = {"samlp": C.NS_SAMLP, "saml": C.NS_SAML, "ds": C.NS_DS}


def _request(stack, **params) -> etree._Element:
    return etree.fromstring(base64.b64decode(authorize(stack, **params).saml_request))


def test_request_is_signed_rsa_sha256_with_sha256_digest_by_our_key(stack):
    request = _request(stack)
    assert OneLogin_Saml2_Utils.validate_sign(request, cert=stack.config.saml.signing.cert_pem,
                                              xpath="/samlp:AuthnRequest/ds:Signature")
    assert request.find(".//ds:SignatureMethod", NS).get("Algorithm") == C.RSA_SHA256
    assert request.find(".//ds:DigestMethod", NS).get("Algorithm") == C.SHA256
    assert request.find(".//ds:Reference", NS).get("URI") == f"#{request.get('ID')}"


def test_request_names_us_as_issuer_and_the_hub_as_destination(stack):
    request = _request(stack)
    assert request.find("saml:Issuer", NS).text == stack.config.saml.entity_id
    assert request.get("Destination") == stack.hub.sso_url


def test_request_ids_are_unguessable_and_valid_xml_ids(stack):
    ids = {_request(stack).get("ID") for _ in range(3)}
    assert len(ids) == 3
    for request_id in ids:
        assert request_id[0] == "_" and len(request_id) >= 33


def test_request_has_no_is_passive_scoping_or_acs_url(stack):
    request = _request(stack)
    assert request.get("IsPassive") is None
    assert request.find("samlp:Scoping", NS) is None
    assert request.get("AssertionConsumerServiceURL") is None
    assert request.get("AssertionConsumerServiceIndex") is None
    assert request.get("ProtocolBinding") is None


def test_request_asks_for_the_clients_default_level_as_a_minimum(stack):
    context = _request(stack).find("samlp:RequestedAuthnContext", NS)
    assert context.get("Comparison") == "minimum"
    assert [ref.text for ref in context] == [LevelOfAssurance.LEVEL_2.uri]


def test_request_asks_for_a_higher_level_from_acr_values(stack):
    context = _request(stack, acr_values=LevelOfAssurance.LEVEL_3.uri).find(
        "samlp:RequestedAuthnContext", NS)
    assert [ref.text for ref in context] == [LevelOfAssurance.LEVEL_3.uri]


def test_request_never_asks_for_less_than_the_clients_level(stack):
    """acr_values can raise the client's configured level, never lower it (issue 24.8)."""
    context = _request(stack, acr_values=LevelOfAssurance.LEVEL_1.uri).find(
        "samlp:RequestedAuthnContext", NS)
    assert [ref.text for ref in context] == [LevelOfAssurance.LEVEL_2.uri]


def test_request_forces_authentication_when_the_council_asks_with_prompt_login(stack):
    assert _request(stack, prompt="login").get("ForceAuthn") == "true"


def test_request_does_not_force_authentication_otherwise(stack):
    assert _request(stack).get("ForceAuthn") is None


def test_request_goes_by_an_auto_submitting_post_form_with_a_visible_continue_button(stack):
    import lxml.html

    attempt = authorize(stack)
    page = lxml.html.fromstring(attempt.response.text)
    (form,) = page.xpath('//form[@id="hub-handoff"]')
    assert form.get("method").lower() == "post"
    assert form.get("action") == stack.hub.sso_url
    buttons = form.xpath('.//button[@type="submit"] | .//input[@type="submit"]')
    assert buttons and all(b.get("hidden") is None and "display:none" not in
                           (b.get("style") or "").replace(" ", "") for b in buttons)
    scripts = " ".join(page.xpath("//script/text()"))
    assert ".submit()" in scripts


def test_signing_with_the_kept_key_gives_exactly_python3_samls_signature(stack):
    """broker.hub.saml_signing keeps the parsed key between messages; the signed bytes must be
    those of python3-saml's add_sign (RSA PKCS#1 v1.5 is deterministic), on every thread."""
    import threading

    from broker.hub.requests import build_authn_request
    from broker.hub.saml_signing import sign_after_issuer

    saml = stack.config.saml
    hub = stack.broker_app.extensions["broker"].upstreams.named("verify").metadata.current()
    unsigned = build_authn_request(saml, hub, LevelOfAssurance.LEVEL_2, "a-flow-id").xml
    unsigned = etree.tostring(_without_signature(etree.fromstring(unsigned)), encoding="unicode")
    expected = OneLogin_Saml2_Utils.add_sign(unsigned, saml.signing.key_pem, saml.signing.cert_pem,
                                             sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
    expected = expected.decode() if isinstance(expected, bytes) else expected
    results = [sign_after_issuer(unsigned, saml.signing.key_pem, saml.signing.cert_pem)
               for _ in range(2)]
    thread = threading.Thread(target=lambda: results.append(
        sign_after_issuer(unsigned, saml.signing.key_pem, saml.signing.cert_pem)))
    thread.start()
    thread.join()
    assert results == [expected] * 3


def _without_signature(request: etree._Element) -> etree._Element:
    request.remove(request.find("ds:Signature", NS))
    return request
