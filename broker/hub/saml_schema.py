"""The schema every hub Response is validated against once its assertions are decrypted.

Real Verify messages type attribute values with `xsi:type="ida:PersonNameType"` and the like
(the Matching Dataset, `ida:IPAddressType` for TXN_IPaddress, `ida:IDPFraudEventType` and
`ida:GPG45StatusType` in fraud cases). The SAML protocol schema alone cannot resolve those types,
so it is compiled together with the ida attribute types (schemas/ida-attributes.xsd). Any
document valid against SAML alone stays valid; only the ida types are added. See docs/adr/0004.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import onelogin.saml2
from lxml import etree

PROTOCOL_SCHEMA = "saml-schema-protocol-2.0.xsd"
IDA_NS = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
_LIBRARY_SCHEMAS = Path(onelogin.saml2.__file__).parent / "schemas"
_OUR_SCHEMAS = Path(__file__).parent / "schemas"


_compiling = threading.Lock()


def verify_protocol_schema() -> etree.XMLSchema:
    """SAML protocol 2.0 + the ida attribute value types, compiled once per process.

    Compiled under a lock, and at start-up by `create_app`: libxml2 sets up its built-in schema
    types on the first compilation, and two threads doing that at once leave the process
    unable to compile or use any schema again ("xmlSchemaPValAttrNodeValue, the given type is
    not a built-in type"), so every later sign-in of that worker would be rejected."""
    with _compiling:
        return _compile_protocol_schema()


@functools.cache
def _compile_protocol_schema() -> etree.XMLSchema:
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'targetNamespace="urn:uk:gov:broker:schema-bundle">'
        '<xs:import namespace="urn:oasis:names:tc:SAML:2.0:protocol" '
        f'schemaLocation="{(_LIBRARY_SCHEMAS / PROTOCOL_SCHEMA).as_uri()}"/>'
        f'<xs:import namespace="{IDA_NS}" '
        f'schemaLocation="{(_OUR_SCHEMAS / "ida-attributes.xsd").as_uri()}"/>'
        "</xs:schema>"
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.fromstring(wrapper.encode(), parser,
                                            base_url=_OUR_SCHEMAS.as_uri() + "/"))
