"""Signs our AuthnRequests with an xmlsec key parsed once per key and thread.

python3-saml's `add_sign` parses the PEM private key into a new xmlsec key for every message;
OpenSSL then redoes the key's Montgomery and blinding set-up before each signature, which costs
three times the RSA signature itself (benchmarks/README.md). This is the same signature, made by
the same xmlsec calls as `add_sign` (enveloped, exclusive C14N, RSA-SHA256 over SHA-256, the
certificate in KeyInfo, placed after the Issuer), with the parsed key kept for the next message.
"""

from __future__ import annotations

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.hub.saml_keys import signing_key
from broker.hub.saml_xml import parse_xml


def sign_after_issuer(xml: str, key_pem: str, cert_pem: str) -> str:
    """Signs the root element of a SAML message, its signature placed after its Issuer."""
    root = parse_xml(xml)
    issuer = root.find(f"{{{C.NS_SAML}}}Issuer")
    if issuer is None or not root.get("ID"):
        raise ValueError("a SAML message to sign needs an ID and an Issuer")
    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N,
                                       xmlsec.Transform.RSA_SHA256, ns="ds")
    issuer.addnext(signature)
    xmlsec.tree.add_ids(root, ["ID"])
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256,
                                              uri=f"#{root.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    context = xmlsec.SignatureContext()
    context.key = signing_key(key_pem, cert_pem)
    context.sign(signature)
    return etree.tostring(root, encoding="unicode")
