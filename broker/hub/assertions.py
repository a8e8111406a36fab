"""The identity provider's two assertions in a hub Response: decrypted with our keys, verified
with the identity provider's, and checked (subject confirmation, conditions, NameID, AuthnInstant,
level of assurance). They were made for the hub: no Conditions, the hub's Recipient, the hub's
InResponseTo, which, as verify-service-provider (ADR 0022), we do not check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.config import BrokerConfig
from broker.hub.federation import HubMetadata
from broker.hub.outcomes import FailureReason, HubFailure, ResponseRejected
from broker.hub.saml_keys import decryption_key
from broker.hub.saml_values import (
    NS,
    SAML,
    SAMLP,
    exact,
    saml_instant,
    simple_value,
    verify_signature,
)
from broker.identity import Flow, LevelOfAssurance

LEVEL_X_URI = "urn:uk:gov:cabinet-office:tc:saml:authn-context:levelX"


@dataclass(frozen=True)
class IdpAssertions:
    """The identity provider's two verified assertions, and who issued them."""

    issuer: str
    authn: etree._Element
    matching_dataset: etree._Element


XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
# Content encryption algorithms accepted, with the length of the AES key each takes.
CONTENT_ALGORITHMS = {XENC + "aes128-cbc": 16, XENC + "aes192-cbc": 24, XENC + "aes256-cbc": 32,
                      XENC11 + "aes128-gcm": 16, XENC11 + "aes192-gcm": 24,
                      XENC11 + "aes256-gcm": 32}
# One per recipient (Verify sends one); each costs an RSA decryption per configured key.
MAX_ENCRYPTED_KEYS = 4
KEY_TRANSPORT_ALGORITHMS = {XENC + "rsa-oaep-mgf1p", XENC11 + "rsa-oaep"}
RESPONSE_CHILDREN = {f"{SAML}Issuer", f"{{{C.NS_DS}}}Signature", f"{SAMLP}Extensions",
                     f"{SAMLP}Status", f"{SAML}EncryptedAssertion"}


def _check_encryption(encrypted_assertion: etree._Element) -> None:
    """RSA-OAEP key transport and AES content encryption only (the profile's choices), and
    cipher values inline.

    xmlsec would also decrypt RSA PKCS#1 v1.5 key transport (open to Bleichenbacher-style
    oracles) and Triple DES, and fetch a CipherReference's URI (a file, a URL); none of them is
    ever what the hub sends, so none is tried.
    """
    if any(True for _ in encrypted_assertion.iter(f"{{{XENC}}}CipherReference")):
        raise ResponseRejected("an EncryptedAssertion refers to its cipher data elsewhere")
    for encrypted in encrypted_assertion.iter(f"{{{XENC}}}EncryptedData"):
        method = encrypted.find(f"{{{XENC}}}EncryptionMethod")
        if method is None or method.get("Algorithm") not in CONTENT_ALGORITHMS:
            raise ResponseRejected("assertion uses an unacceptable content encryption algorithm")
    for key in encrypted_assertion.iter(f"{{{XENC}}}EncryptedKey"):
        method = key.find(f"{{{XENC}}}EncryptionMethod")
        if method is None or method.get("Algorithm") not in KEY_TRANSPORT_ALGORITHMS:
            raise ResponseRejected("assertion uses an unacceptable key transport algorithm")


def decrypted_assertions(document: etree._Element, config: BrokerConfig
                          ) -> list[etree._Element]:
    """Exactly two EncryptedAssertions, directly in the Response, decrypted in place; no
    plain assertion anywhere, and nothing else in the Response that could hide one."""
    for child in document:
        if not isinstance(child.tag, str) or child.tag not in RESPONSE_CHILDREN:
            raise ResponseRejected("the Response holds an unexpected element")
    encrypted = document.findall("saml:EncryptedAssertion", NS)
    found = sum(1 for _ in document.iter(f"{SAML}EncryptedAssertion"))
    if found != 2:
        raise ResponseRejected(f"expected two encrypted assertions, found {found}")
    if len(encrypted) != 2:
        raise ResponseRejected("an EncryptedAssertion is not directly in the Response")
    assertions = []
    for element in encrypted:
        assertion = decrypt(element, config)
        if assertion.tag != f"{SAML}Assertion":
            raise ResponseRejected("an EncryptedAssertion does not hold an Assertion")
        element.getparent().replace(element, assertion)
        assertions.append(assertion)
    return assertions


def decrypt(encrypted_assertion: etree._Element, config: BrokerConfig) -> etree._Element:
    """The assertion, in place of its EncryptedData, in two steps: the AES key from the
    EncryptedKey (beside the data, where Verify's libraries put it, or inside its KeyInfo) with
    our RSA key, each configured key tried so both decrypt during a rotation; then the data
    with that AES key. Which keys are used is decided here, not by xmlsec's KeyInfo lookup."""
    _check_encryption(encrypted_assertion)
    data = encrypted_assertion.findall(f"{{{XENC}}}EncryptedData")
    if len(data) != 1:
        raise ResponseRejected("an EncryptedAssertion must hold one EncryptedData")
    data = data[0]
    wrapped_keys = (encrypted_assertion.findall(f"{{{XENC}}}EncryptedKey")
                    + data.findall(f"{{{C.NS_DS}}}KeyInfo/{{{XENC}}}EncryptedKey"))
    if not wrapped_keys:
        raise ResponseRejected("an EncryptedAssertion carries no EncryptedKey")
    if len(wrapped_keys) > MAX_ENCRYPTED_KEYS:
        raise ResponseRejected("an EncryptedAssertion carries too many EncryptedKeys")
    key_bytes = CONTENT_ALGORITHMS[data.find(f"{{{XENC}}}EncryptionMethod").get("Algorithm")]
    for wrapped in wrapped_keys:
        for pair in config.saml.encryption:
            context = xmlsec.EncryptionContext()
            context.key = decryption_key(pair.key_pem)
            try:
                content_key = context.decrypt(wrapped)
            except xmlsec.Error:
                continue
            if not isinstance(content_key, bytes) or len(content_key) != key_bytes:
                raise ResponseRejected("the EncryptedKey does not hold a key for the content "
                                       "encryption algorithm")
            context = xmlsec.EncryptionContext()
            context.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, content_key)
            try:
                return context.decrypt(data)
            except xmlsec.Error:
                raise ResponseRejected("assertion could not be decrypted") from None
    raise ResponseRejected("assertion could not be decrypted with our keys")


def verified_idp_assertions(assertions: list[etree._Element], hub: HubMetadata,
                             now: datetime) -> IdpAssertions:
    """Both assertions signed by one identity provider of the federation, with its own key,
    its entity and that key both still valid `now`."""
    issuers = []
    for assertion in assertions:
        found = assertion.findall("saml:Issuer", NS)
        if len(found) != 1:
            raise ResponseRejected("an Assertion must have exactly one Issuer")
        issuer = exact(found[0], "Assertion Issuer")
        provider = hub.identity_provider(issuer, now)
        if provider is None:
            raise ResponseRejected("Assertion Issuer is not an identity provider of the "
                                   "federation")
        certs = provider.signing_certs_at(now)
        if not certs:
            raise ResponseRejected("no signing certificate of the identity provider is valid now")
        verify_signature(assertion, certs, "Assertion")
        issuers.append(issuer)
    if issuers[0] != issuers[1]:
        raise ResponseRejected("the two assertions have different Issuers")
    authn = [a for a in assertions if a.find("saml:AuthnStatement", NS) is not None]
    if len(authn) != 1:
        raise ResponseRejected("expected one authn assertion and one Matching Dataset assertion")
    mds = next(a for a in assertions if a is not authn[0])
    return IdpAssertions(issuers[0], authn[0], mds)


def check_subject(assertion: etree._Element, now: float, skew: int) -> float:
    """One bearer confirmation, still in date. Recipient and InResponseTo are the hub's: the
    binding to our flow is the hub-signed Response's InResponseTo (verify-service-provider
    ADR 0022)."""
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    if len(confirmations) != 1 or confirmations[0].get("Method") != C.CM_BEARER:
        raise ResponseRejected("expected exactly one bearer SubjectConfirmation")
    data = confirmations[0].findall("saml:SubjectConfirmationData", NS)
    if len(data) != 1 or not data[0].get("NotOnOrAfter"):
        raise ResponseRejected("SubjectConfirmationData has no NotOnOrAfter")
    not_on_or_after = saml_instant(data[0].get("NotOnOrAfter"))
    if now >= not_on_or_after + skew:
        raise ResponseRejected("SubjectConfirmationData has expired")
    if data[0].get("NotBefore") and now < saml_instant(data[0].get("NotBefore")) - skew:
        raise ResponseRejected("SubjectConfirmationData NotBefore is in the future")
    return not_on_or_after


def check_conditions(assertion: etree._Element, config: BrokerConfig, hub: HubMetadata,
                      now: float, skew: int) -> None:
    """Verify's identity providers send none; any that are there still hold."""
    conditions = assertion.findall("saml:Conditions", NS)
    if not conditions:
        return
    if len(conditions) != 1:
        raise ResponseRejected("more than one Conditions")
    conditions = conditions[0]
    if conditions.get("NotBefore") and now < saml_instant(conditions.get("NotBefore")) - skew:
        raise ResponseRejected("Conditions NotBefore is in the future")
    if conditions.get("NotOnOrAfter") and now >= saml_instant(conditions.get("NotOnOrAfter")) + skew:
        raise ResponseRejected("Conditions NotOnOrAfter has passed")
    for restriction in conditions.findall("saml:AudienceRestriction", NS):
        audiences = {exact(a, "Audience") for a in restriction.findall("saml:Audience", NS)}
        if not audiences & {config.saml.entity_id, hub.entity_id}:
            raise ResponseRejected("Audience is neither the hub nor us")


def name_id(assertion: etree._Element) -> str:
    name_ids = assertion.findall("saml:Subject/saml:NameID", NS)
    if len(name_ids) != 1:
        raise ResponseRejected("expected exactly one NameID")
    if name_ids[0].get("Format") not in (None, C.NAMEID_PERSISTENT):
        raise ResponseRejected("NameID is not persistent")
    pid = exact(name_ids[0], "NameID")
    if not pid:
        raise ResponseRejected("NameID is empty")
    return pid


def authn_instant(authn: etree._Element, flow: Flow, now: float, skew: int) -> int:
    """The moment the resident authenticated: the ID token's auth_time. When the council asked
    for fresh authentication (prompt=login, max_age) it must be fresh enough."""
    statements = authn.findall("saml:AuthnStatement", NS)
    if len(statements) != 1 or not statements[0].get("AuthnInstant"):
        raise ResponseRejected("expected exactly one AuthnStatement with an AuthnInstant")
    instant = saml_instant(statements[0].get("AuthnInstant"))
    if instant > now + skew:
        raise ResponseRejected("AuthnInstant is in the future")
    params = flow.authorize_params
    if "login" in (params.get("prompt") or "").split() and instant < flow.created_at - skew:
        raise ResponseRejected("AuthnInstant is before this sign-in began (prompt=login)")
    max_age = params.get("max_age")
    if max_age is not None and str(max_age).isdigit() and now - instant > int(max_age) + skew:
        raise ResponseRejected("AuthnInstant is older than the council's max_age")
    return int(min(instant, now))


def level_of_assurance(assertion: etree._Element) -> LevelOfAssurance | HubFailure:
    refs = assertion.findall("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef",
                             NS)
    if len(refs) != 1:
        raise ResponseRejected("expected exactly one AuthnContextClassRef")
    uri = simple_value(refs[0], "AuthnContextClassRef")
    if uri == LEVEL_X_URI:
        return HubFailure(FailureReason.FRAUD_EVENT, "the identity provider reported levelX")
    try:
        return LevelOfAssurance.from_uri(uri)
    except ValueError:
        return HubFailure(FailureReason.LEVEL_NOT_MET, "the hub asserted an unusable level")
