"""The one parser for XML from outside (hub Responses, federation metadata, AuthnRequests at the
stub hub): no DOCTYPE of any kind, no entities, no network, comments and processing
instructions dropped, and errors that never quote the document."""

from __future__ import annotations

import pytest

from broker.hub.saml_xml import UnacceptableXml, parse_xml
from tests.hub.test_xml_attacks import DOCTYPES


@pytest.mark.parametrize("kind", sorted(DOCTYPES))
def test_every_doctype_is_refused(kind):
    doctype = DOCTYPES[kind].format(issuer="https://hub.example")
    body = "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'>&hub;</samlp:Response>" \
        if "ENTITY hub" in doctype else \
        "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>"
    with pytest.raises(UnacceptableXml, match="DOCTYPE"):
        parse_xml(doctype + body)


def test_a_bare_doctype_is_refused():
    with pytest.raises(UnacceptableXml, match="DOCTYPE"):
        parse_xml(b"<!DOCTYPE a><a/>")


def test_an_undeclared_entity_is_not_well_formed():
    with pytest.raises(UnacceptableXml, match="not well-formed"):
        parse_xml(b"<a>&secret;</a>")


def test_comments_and_processing_instructions_are_dropped_and_text_joined():
    root = parse_xml(b"<a><b>stub-pid-<!---->jane</b><?evil x?><c/></a>")
    assert [child.tag for child in root] == ["b", "c"]
    assert root[0].text == "stub-pid-jane" and len(root[0]) == 0


def test_an_error_names_the_line_and_never_quotes_the_document():
    with pytest.raises(UnacceptableXml) as refused:
        parse_xml(b"<a>\n<name>Jane Resident</nam></a>")
    assert str(refused.value) == "not well-formed (line 2)"
