"""The one signature federation metadata may carry: on the document root, covering the root.

python3-saml's `validate_metadata_sign` accepts a document when *a* signature somewhere in it
verifies; it does not ask what that signature covers. Metadata signature wrapping uses exactly
that: the federation's genuine signed document is tucked into `md:Extensions` (or appended after
it) under a new, unsigned root carrying an attacker's certificate and a far `validUntil`, and
the broker would then read keys from the unsigned root. A signature that covers only a child
(an `IDPSSODescriptor`) leaves the root's `validUntil` unsigned in the same way.

So the rule here is the strict one (as OpenSAML's signature profile validator, which GOV.UK
Verify's own metadata resolver uses): exactly one `ds:Signature` in the whole document, a direct
child of the root, with exactly one `Reference` whose URI is `#<root ID>` or `""`, only enveloped
and canonicalisation transforms, SHA-256 or stronger. xmlsec then verifies it, and the caller
reads every value from that same root element, which the signature now provably covers.
"""

from __future__ import annotations

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

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
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


class SignatureRefused(Exception):
    """The document's signature is not the one acceptable shape, or does not verify."""


def root_signature(root: etree._Element) -> etree._Element:
    """The root's one enveloped signature, after checking its shape (not yet its value)."""
    signatures = list(root.iter(f"{{{DS}}}Signature"))
    if not signatures:
        raise SignatureRefused("metadata has no signature")
    if len(signatures) != 1:
        raise SignatureRefused(f"metadata must carry exactly one signature, it has "
                               f"{len(signatures)}")
    signature = signatures[0]
    if signature.getparent() is not root:
        raise SignatureRefused("the metadata signature is not on the document root")
    signed_info = _one(signature, "SignedInfo")
    method = _one(signed_info, "SignatureMethod").get("Algorithm")
    if method not in SIGNATURE_METHODS:
        raise SignatureRefused(f"metadata signature method {method} is not accepted "
                               "(SHA-256 or stronger)")
    if _one(signed_info, "CanonicalizationMethod").get("Algorithm") not in CANONICALISATIONS:
        raise SignatureRefused("metadata signature canonicalisation is not accepted")
    reference = _one(signed_info, "Reference")
    uri = reference.get("URI")
    root_id = root.get("ID")
    if not (uri == "" or (root_id and uri == f"#{root_id}")):
        raise SignatureRefused("the metadata signature does not reference the document root")
    if root_id and sum(1 for e in root.iter() if isinstance(e.tag, str)
                       for name in ("ID", XML_ID) if e.get(name) == root_id) != 1:
        raise SignatureRefused("the root's ID is used by another element too")
    digest = _one(reference, "DigestMethod").get("Algorithm")
    if digest not in DIGEST_METHODS:
        raise SignatureRefused(f"metadata digest method {digest} is not accepted "
                               "(SHA-256 or stronger)")
    transforms = reference.find(f"{{{DS}}}Transforms")
    algorithms = [t.get("Algorithm") for t in transforms.findall(f"{{{DS}}}Transform")] \
        if transforms is not None else []
    if ENVELOPED not in algorithms or any(
            a != ENVELOPED and a not in CANONICALISATIONS for a in algorithms):
        raise SignatureRefused("metadata signature transforms must be enveloped and "
                               "canonicalisation only")
    return signature


def verify_root_signature(root: etree._Element, key: xmlsec.Key) -> None:
    """Raises SignatureRefused unless `root` carries its one signature, made by `key`."""
    signature = root_signature(root)
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = key
    try:
        context.verify(signature)
    except xmlsec.Error:
        raise SignatureRefused("metadata signature does not verify against the trust anchor "
                               "(hub.trust_anchor)") from None


def signing_certificate(signature: etree._Element) -> str | None:
    """The base64 certificate the signature's KeyInfo presents (one only), if any."""
    certs = signature.findall(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if len(certs) > 1:
        raise SignatureRefused("the metadata signature presents more than one certificate")
    return "".join(certs[0].text.split()) if certs and certs[0].text else None


def _one(parent: etree._Element, tag: str) -> etree._Element:
    found = parent.findall(f"{{{DS}}}{tag}")
    if len(found) != 1:
        raise SignatureRefused(f"the metadata signature must have exactly one {tag}")
    return found[0]
