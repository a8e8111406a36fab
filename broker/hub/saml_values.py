"""Reading values out of SAML elements, strictly: identifiers compared exactly, leaves that hold
text only, xs:dateTime in UTC, and signatures by one of the given certificates."""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.hub.outcomes import ResponseRejected
from broker.hub.xml_signatures import SignatureRefused, verify_enveloped

IDA_NS = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
NS = {"saml": C.NS_SAML, "samlp": C.NS_SAMLP, "ida": IDA_NS, "ds": C.NS_DS}
SAML = f"{{{C.NS_SAML}}}"
SAMLP = f"{{{C.NS_SAMLP}}}"


def verify_signature(element: etree._Element, certs: tuple[str, ...], what: str) -> None:
    try:
        verify_enveloped(element, certs, what)
    except SignatureRefused as exc:
        raise ResponseRejected(str(exc)) from None


def exact(node: etree._Element, what: str) -> str:
    """An identifier's text, compared exactly: surrounding whitespace (a no-break or an em space
    after a resident's PID) would otherwise make it someone else's, or be dropped silently."""
    value = raw_text(node, what)
    if value != value.strip():
        raise ResponseRejected(f"{what} has surrounding whitespace")
    return value


def saml_instant(value: str) -> float:
    """An xs:dateTime in UTC (SAML core 1.3.3), to seconds since the epoch."""
    try:
        if "T" not in value:
            raise ValueError("a date and a time")
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ResponseRejected(f"not a SAML time: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def simple_value(node: etree._Element | None, what: str) -> str:
    """The text of a leaf element; comments or child nodes inside it are refused outright.

    A comment splits text nodes, and libraries that read only the first one have let an
    attacker turn `admin@evil<!---->.example` into `admin@evil` (CVE-2017-11427).
    """
    return raw_text(node, what).strip()


def raw_text(node: etree._Element | None, what: str) -> str:
    if node is None:
        raise ResponseRejected(f"{what} is missing")
    if len(node):
        raise ResponseRejected(f"{what} must contain text only")
    return node.text or ""
