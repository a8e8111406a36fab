"""The one enveloped signature a signed SAML element may carry, checked before xmlsec verifies it.

Used for the federation metadata's root, the hub's Response and each identity provider's
assertion. XML signature wrapping works by making a verifier check one element while the
application reads another; it cannot when the rule is: exactly one `ds:Signature` inside the
element, a direct child of it, with one `Reference` whose URI is the element's own ID (unique in
the document), enveloped and canonicalisation transforms only, SHA-256 or stronger; and the
application then reads only that element. (OpenSAML's SAML signature profile validator, which
GOV.UK Verify's libraries use, applies the same rule.)
"""

from __future__ import annotations

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.hub.saml_keys import verification_key

DS = C.NS_DS
SIGNATURE_METHODS = frozenset({
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
})
DIGEST_METHODS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})
CANONICALISATIONS = frozenset({
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
})
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


class SignatureRefused(Exception):
    """The element's signature is not the one acceptable shape, or does not verify."""


def enveloped_signature(element: etree._Element, what: str,
                        allow_empty_uri: bool = False) -> etree._Element:
    """The element's one signature, after checking its shape (not yet its value)."""
    signatures = list(element.iter(f"{{{DS}}}Signature"))
    if not signatures:
        raise SignatureRefused(f"{what} has no signature")
    if len(signatures) != 1:
        raise SignatureRefused(f"{what} must carry exactly one signature, it has "
                               f"{len(signatures)}")
    signature = signatures[0]
    if signature.getparent() is not element:
        raise SignatureRefused(f"the {what} signature is not on the {what} element itself")
    signed_info = _one(signature, "SignedInfo", what)
    method = _one(signed_info, "SignatureMethod", what).get("Algorithm")
    if method not in SIGNATURE_METHODS:
        raise SignatureRefused(f"{what} signature method {method} is not accepted "
                               "(SHA-256 or stronger)")
    if _one(signed_info, "CanonicalizationMethod", what).get("Algorithm") \
            not in CANONICALISATIONS:
        raise SignatureRefused(f"{what} signature canonicalisation is not accepted")
    reference = _one(signed_info, "Reference", what)
    uri = reference.get("URI")
    element_id = element.get("ID")
    if not ((allow_empty_uri and uri == "" and element.getparent() is None)
            or (element_id and uri == f"#{element_id}")):
        raise SignatureRefused(f"the {what} signature does not reference the {what} element")
    if element_id:
        uses = element.getroottree().xpath("count(//@ID[. = $v]) + count(//@xml:id[. = $v])",
                                           v=element_id)
        if uses != 1:
            raise SignatureRefused(f"the {what}'s ID is used by another element too")
    digest = _one(reference, "DigestMethod", what).get("Algorithm")
    if digest not in DIGEST_METHODS:
        raise SignatureRefused(f"{what} digest method {digest} is not accepted "
                               "(SHA-256 or stronger)")
    transforms = reference.find(f"{{{DS}}}Transforms")
    algorithms = [t.get("Algorithm") for t in transforms.findall(f"{{{DS}}}Transform")] \
        if transforms is not None else []
    if ENVELOPED not in algorithms or any(
            a != ENVELOPED and a not in CANONICALISATIONS for a in algorithms):
        raise SignatureRefused(f"{what} signature transforms must be enveloped and "
                               "canonicalisation only")
    return signature


def verify_enveloped(element: etree._Element, certs_pem: tuple[str, ...], what: str,
                     allow_empty_uri: bool = False) -> None:
    """Raises SignatureRefused unless `element` carries its one signature, made by the key of
    one of `certs_pem`."""
    signature = enveloped_signature(element, what, allow_empty_uri)
    for cert in certs_pem:
        context = xmlsec.SignatureContext()
        if element.get("ID"):
            # Only the signed element's ID, proven unique above: the Reference names nothing else.
            context.register_id(element, "ID")
        context.key = verification_key(cert)
        try:
            context.verify(signature)
            return
        except xmlsec.Error:
            continue
    raise SignatureRefused(f"{what} signature does not verify with a trusted key")


def presented_certificate(signature: etree._Element, what: str) -> str | None:
    """The base64 certificate the signature's KeyInfo presents (one only), if any."""
    certs = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if len(certs) > 1:
        raise SignatureRefused(f"the {what} signature presents more than one certificate")
    return "".join(certs[0].text.split()) if certs and certs[0].text else None


def _one(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = parent.findall(f"{{{DS}}}{tag}")
    if len(found) != 1:
        raise SignatureRefused(f"the {what} signature must have exactly one {tag}")
    return found[0]
