"""Lets python3-saml's strict schema check accept GOV.UK Verify's typed attribute values.

Real Verify messages type Matching Dataset values with `xsi:type="ida:PersonNameType"` and the
like. python3-saml validates every Response against the SAML protocol schema alone, where such a
type does not resolve, so it refuses them. We keep the strict check and give it one more schema:
the SAML protocol schema plus the ida attribute types (schemas/ida-attributes.xsd). Any document
valid before stays valid; only the ida types are added. See docs/adr/0004.

As with broker.hub.saml_clock, only python3-saml's response module sees the change (its
module-level name for the XML utilities is replaced by a subclass).
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import onelogin.saml2
from lxml import etree
from onelogin.saml2 import response as _response_module
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

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


class _VerifyXML(OneLogin_Saml2_XML):
    @staticmethod
    def validate_xml(xml, schema, debug=False):
        if schema != PROTOCOL_SCHEMA:
            return OneLogin_Saml2_XML.validate_xml(xml, schema, debug)
        try:
            document = OneLogin_Saml2_XML.to_etree(xml)
        except Exception:
            return "unloaded_xml"
        return document if verify_protocol_schema().validate(document) else "invalid_xml"


_response_module.OneLogin_Saml2_XML = _VerifyXML
