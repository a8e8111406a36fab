"""XML-level attacks: comments that change what a value means (CVE-2017-11427 class) and
DOCTYPE declarations, external entities and entity expansion."""

from __future__ import annotations

import pytest

from tests.hub.conftest import assert_rejected
from tests.hub_messages import Forgery, forge


def _comment_in_name_id(signed_assertion: str) -> str:
    # Exclusive canonicalisation drops comments, so the signature still verifies afterwards.
    return signed_assertion.replace("stub-pid-jane-0001", "stub-pid-<!---->jane-0001", 1)


def _comment_in_first_name(signed_assertion: str) -> str:
    return signed_assertion.replace(">Jane<", ">Ja<!---->ne<", 1)


def _comment_in_address_line(signed_assertion: str) -> str:
    return signed_assertion.replace("1 Council Street", "1 Council<!----> Street", 1)


def test_comment_inside_name_id_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(after_signing=_comment_in_name_id)))
    assert_rejected(outcome, "NameID must contain text only")


def test_comment_inside_an_attribute_value_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(after_signing=_comment_in_first_name)))
    assert_rejected(outcome, "MDS_firstname must contain text only")


def test_comment_inside_an_address_line_is_rejected(stack, send):
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(after_signing=_comment_in_address_line)))
    assert_rejected(outcome, "MDS_currentaddress Line must contain text only")


DOCTYPES = {
    "internal-entity": '<!DOCTYPE samlp:Response [<!ENTITY hub "{issuer}">]>',
    "external-entity": '<!DOCTYPE samlp:Response [<!ENTITY hub SYSTEM "file:///etc/passwd">]>',
    "entity-expansion": (
        '<!DOCTYPE samlp:Response [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY hub "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'),
    "external-dtd": '<!DOCTYPE samlp:Response SYSTEM "http://127.0.0.1:9/evil.dtd">',
}


@pytest.mark.parametrize("kind", sorted(DOCTYPES))
def test_doctype_is_rejected(stack, send, kind):
    def build(attempt):
        xml = forge(stack, attempt.authn_request_id)
        doctype = DOCTYPES[kind].format(issuer=stack.hub.entity_id)
        if "ENTITY hub" in doctype:
            xml = xml.replace(f">{stack.hub.entity_id}</saml:Issuer>", ">&hub;</saml:Issuer>", 1)
        return doctype + xml

    assert_rejected(send(build), "not acceptable XML")
