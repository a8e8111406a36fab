"""The one parser for XML from outside: the hub's Responses, the federation metadata, requests.

It has the options of python3-saml's `to_etree` (its copy of defusedxml.lxml): no entity
resolution, no network, no huge trees, comments and processing instructions dropped while
parsing, and any DOCTYPE refused, so no entity can be declared at all. What it leaves out is
that copy's `RestrictedElement`: a Python element class whose iterators filter comments, PIs
and entity references out of every `iter`, `find` and `findall`, one Python step per child of
every lookup (benchmarks/README.md, "The ACS back to its size"). Parsing already removes what it
filters; decrypted assertions, which xmlsec parses itself, may hold comments, and there the
broker's own rule applies: an element read as a value must hold text only
(broker.hub.saml_values).
"""

from __future__ import annotations

import threading

from lxml import etree


class UnacceptableXml(ValueError):
    """Not well-formed, or declares a DOCTYPE."""


_local = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
            remove_comments=True, remove_pis=True)
    return parser


def parse_xml(xml: bytes | str) -> etree._Element:
    """The document's root element; raises UnacceptableXml for anything else."""
    if isinstance(xml, str):
        xml = xml.encode()
    try:
        tree = etree.fromstring(xml, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        # lxml's message can quote the document (personal data): only where it went wrong.
        raise UnacceptableXml(f"not well-formed (line {exc.lineno})") from None
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise UnacceptableXml("a DOCTYPE is not allowed")
    return tree.getroot()
