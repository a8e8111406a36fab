"""Building the hub's messages: signed metadata and signed Responses with signed, encrypted
Assertions. The stub hub uses it, and the tests use it to build hostile variants with real keys.

Signing and encryption go through python3-saml and xmlsec; only the XML text is assembled here.
"""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.hub.metadata import MD, strip_pem
from broker.identity import Address, LevelOfAssurance, MatchingDataset, MatchingValue

IDA_NS = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"


def saml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return "_" + secrets.token_hex(16)


def sign(xml: str | bytes, key_pem: str, cert_pem: str, sign_alg: str = C.RSA_SHA256,
         digest_alg: str = C.SHA256) -> str:
    """Signs the element that holds the first saml:Issuer (python3-saml's add_sign)."""
    signed = OneLogin_Saml2_Utils.add_sign(xml, key_pem, cert_pem, sign_algorithm=sign_alg,
                                           digest_algorithm=digest_alg)
    return signed.decode() if isinstance(signed, bytes) else signed


_managers = threading.local()


def _keys_manager(cert_pem: str) -> xmlsec.KeysManager:
    """One KeysManager per certificate and thread: creating one loads the system's trusted
    certificates (~80 ms), which dominated building a hub Response in load tests."""
    cache = _managers.__dict__.setdefault("by_cert", {})
    if cert_pem not in cache:
        manager = xmlsec.KeysManager()
        manager.add_key(xmlsec.Key.from_memory(cert_pem.encode(), xmlsec.KeyFormat.CERT_PEM, None))
        cache[cert_pem] = manager
    return cache[cert_pem]


def encrypt_assertion(assertion_xml: str, cert_pem: str,
                      content_alg=xmlsec.Transform.AES128,
                      key_transport=xmlsec.Transform.RSA_OAEP) -> str:
    """Encrypts the assertion to the broker (RSA-OAEP key transport) as an EncryptedAssertion."""
    wrapper = etree.fromstring(
        f'<saml:EncryptedAssertion xmlns:saml="{C.NS_SAML}">{assertion_xml}'
        "</saml:EncryptedAssertion>".encode())
    assertion = wrapper[0]
    manager = _keys_manager(cert_pem)
    template = xmlsec.template.encrypted_data_create(
        wrapper, content_alg, type=xmlsec.EncryptionType.ELEMENT, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="dsig")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, key_transport)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    context = xmlsec.EncryptionContext(manager)
    if content_alg == xmlsec.Transform.DES3:
        context.key = xmlsec.Key.generate(xmlsec.KeyData.DES, 192, xmlsec.KeyDataType.SESSION)
    else:
        size = 256 if content_alg in (xmlsec.Transform.AES256, xmlsec.Transform.AES256_GCM) \
            else 128
        context.key = xmlsec.Key.generate(xmlsec.KeyData.AES, size, xmlsec.KeyDataType.SESSION)
    context.encrypt_xml(template, assertion)
    return etree.tostring(wrapper).decode()


def _flags(verified: bool, valid_from, valid_to) -> str:
    attrs = f' ida:Verified="{"true" if verified else "false"}"'
    if valid_from:
        attrs += f' ida:From="{valid_from.isoformat()}"'
    if valid_to:
        attrs += f' ida:To="{valid_to.isoformat()}"'
    return attrs


def _value(value: MatchingValue, xsi_type: str) -> str:
    # Typed as real Verify messages are (docs/adr/0004-verify-attribute-types.md).
    return (f'<saml:AttributeValue xsi:type="ida:{xsi_type}"'
            f"{_flags(value.verified, value.valid_from, value.valid_to)}>"
            f"{escape(value.value)}</saml:AttributeValue>")


def _address(address: Address) -> str:
    parts = "".join(f"<ida:Line>{escape(line)}</ida:Line>" for line in address.lines)
    for tag, text in (("PostCode", address.post_code),
                      ("InternationalPostCode", address.international_post_code),
                      ("UPRN", address.uprn)):
        if text:
            parts += f"<ida:{tag}>{escape(text)}</ida:{tag}>"
    return (f'<saml:AttributeValue xsi:type="ida:AddressType"'
            f"{_flags(address.verified, address.valid_from, address.valid_to)}>{parts}"
            "</saml:AttributeValue>")


def attribute_statement(dataset: MatchingDataset) -> str:
    attributes = []

    def add(name: str, values: str) -> None:
        if values:
            attributes.append(f'<saml:Attribute Name="{name}" NameFormat='
                              f'"urn:oasis:names:tc:SAML:2.0:attrname-format:basic">{values}'
                              "</saml:Attribute>")

    add("MDS_firstname", "".join(_value(v, "PersonNameType") for v in dataset.first_names))
    add("MDS_middlename", "".join(_value(v, "PersonNameType") for v in dataset.middle_names))
    add("MDS_surname", "".join(_value(v, "PersonNameType") for v in dataset.surnames))
    add("MDS_dateofbirth", "".join(_value(v, "DateType") for v in dataset.dates_of_birth))
    add("MDS_gender", _value(dataset.gender, "GenderType") if dataset.gender else "")
    add("MDS_currentaddress", "".join(_address(a) for a in dataset.current_addresses))
    add("MDS_previousaddress", "".join(_address(a) for a in dataset.previous_addresses))
    return f"<saml:AttributeStatement>{''.join(attributes)}</saml:AttributeStatement>"


@dataclass
class AssertionSpec:
    """Everything that goes into one assertion; tests change fields to build bad ones."""

    issuer: str
    audience: str
    recipient: str
    in_response_to: str | None
    pid: str
    level_uri: str
    dataset: MatchingDataset
    id: str = field(default_factory=new_id)
    issued_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    not_before: datetime | None = None
    not_on_or_after: datetime | None = None
    confirmation_not_on_or_after: datetime | None = None

    def xml(self) -> str:
        now = self.issued_at
        not_before = self.not_before or now - timedelta(seconds=5)
        not_after = self.not_on_or_after or now + timedelta(minutes=5)
        confirm_after = self.confirmation_not_on_or_after or now + timedelta(minutes=5)
        irt = f" InResponseTo={quoteattr(self.in_response_to)}" if self.in_response_to else ""
        return (
            f'<saml:Assertion xmlns:saml="{C.NS_SAML}" xmlns:ida="{IDA_NS}" '
            f'xmlns:xsi="{XSI_NS}" ID="{self.id}" Version="2.0" IssueInstant="{saml_time(now)}">'
            f"<saml:Issuer>{escape(self.issuer)}</saml:Issuer>"
            f"<saml:Subject><saml:NameID Format=\"{C.NAMEID_PERSISTENT}\">{escape(self.pid)}"
            "</saml:NameID>"
            f'<saml:SubjectConfirmation Method="{C.CM_BEARER}">'
            f"<saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{saml_time(confirm_after)}\" "
            f"Recipient={quoteattr(self.recipient)}/></saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{saml_time(not_before)}" '
            f'NotOnOrAfter="{saml_time(not_after)}"><saml:AudienceRestriction>'
            f"<saml:Audience>{escape(self.audience)}</saml:Audience></saml:AudienceRestriction>"
            "</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{saml_time(now)}"><saml:AuthnContext>'
            f"<saml:AuthnContextClassRef>{escape(self.level_uri)}</saml:AuthnContextClassRef>"
            "</saml:AuthnContext></saml:AuthnStatement>"
            f"{attribute_statement(self.dataset)}</saml:Assertion>"
        )


def response_xml(issuer: str, destination: str, in_response_to: str | None, body: str,
                 status: str = STATUS + "Success", sub_status: str | None = None,
                 status_detail: str | None = None, response_id: str | None = None) -> str:
    code = f'<samlp:StatusCode Value="{status}">'
    if sub_status:
        code += f'<samlp:StatusCode Value="{sub_status}"/>'
    code += "</samlp:StatusCode>"
    detail = (f"<samlp:StatusDetail><StatusValue xmlns=\"urn:uk:gov:verify\">{status_detail}"
              "</StatusValue></samlp:StatusDetail>" if status_detail else "")
    irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
    return (
        f'<samlp:Response xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" '
        f'ID="{response_id or new_id()}" Version="2.0" IssueInstant="{saml_time(datetime.now(UTC))}" '
        f"Destination={quoteattr(destination)}{irt}>"
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f"<samlp:Status>{code}{detail}</samlp:Status>{body}</samlp:Response>"
    )


@dataclass(frozen=True)
class HubSigner:
    entity_id: str
    key_pem: str
    cert_pem: str


def success_response(hub: HubSigner, spec: AssertionSpec, broker_encryption_cert: str,
                     destination: str) -> str:
    """The normal case: Response signed by the hub around a signed, encrypted Assertion."""
    signed_assertion = sign(spec.xml(), hub.key_pem, hub.cert_pem)
    encrypted = encrypt_assertion(_without_declaration(signed_assertion), broker_encryption_cert)
    return sign(response_xml(hub.entity_id, destination, spec.in_response_to, encrypted),
                hub.key_pem, hub.cert_pem)


FAILURE_STATUSES = {
    "cancel": (STATUS + "Responder", STATUS + "NoAuthnContext", "authn-cancel"),
    "loa-pending": (STATUS + "Responder", STATUS + "NoAuthnContext", "loa-pending"),
    "authn-failed": (STATUS + "Responder", STATUS + "AuthnFailed", None),
    "requester-error": (STATUS + "Requester", STATUS + "RequestDenied", None),
    "no-passive": (STATUS + "Responder", STATUS + "NoPassive", None),
}


def failure_response(hub: HubSigner, failure: str, in_response_to: str, destination: str
                     ) -> str:
    status, sub_status, detail = FAILURE_STATUSES[failure]
    return sign(response_xml(hub.entity_id, destination, in_response_to, "", status, sub_status,
                             detail), hub.key_pem, hub.cert_pem)


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def _without_declaration(xml: str) -> str:
    return xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml


def hub_metadata(entity_id: str, sso_url: str, signing_cert_pem: str,
                 federation_key_pem: str, federation_cert_pem: str,
                 valid_until: datetime | None = None,
                 extra_signing_certs: tuple[str, ...] = ()) -> str:
    """The hub's metadata, signed with the federation's metadata signing key (the trust anchor).

    `extra_signing_certs` are published beside the hub's signing certificate, as the hub does
    while it rotates its own signing key.
    """
    valid_until = valid_until or datetime.now(UTC) + timedelta(days=2)
    signing = "".join(
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{strip_pem(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for cert in (signing_cert_pem, *extra_signing_certs))
    xml = (
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{C.NS_DS}" '
        f'xmlns:saml="{C.NS_SAML}" ID="{new_id()}" entityID={quoteattr(entity_id)} '
        f'validUntil="{saml_time(valid_until)}">'
        f'<md:IDPSSODescriptor protocolSupportEnumeration="{C.NS_SAMLP}">{signing}'
        f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_POST}" Location={quoteattr(sso_url)}/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
    return sign(xml, federation_key_pem, federation_cert_pem)


def level_uri(level: LevelOfAssurance) -> str:
    return level.uri
