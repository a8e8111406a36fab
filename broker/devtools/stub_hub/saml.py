"""Building the federation's messages as GOV.UK Verify's sources build them: signed federation
metadata (an md:EntitiesDescriptor), and hub-signed Responses carrying an identity provider's two
signed, encrypted assertions. The stub hub uses it, and the tests use it to build hostile
variants with real keys.

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

from broker.hub.federation import MD
from broker.hub.sp_metadata import strip_pem
from broker.identity import Address, LevelOfAssurance, MatchingDataset, MatchingValue

IDA_NS = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
STATUS = "urn:oasis:names:tc:SAML:2.0:status:"


def saml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return "_" + secrets.token_hex(16)


SIGNATURE_TRANSFORMS = {C.RSA_SHA1: xmlsec.Transform.RSA_SHA1,
                        C.RSA_SHA256: xmlsec.Transform.RSA_SHA256,
                        C.RSA_SHA384: xmlsec.Transform.RSA_SHA384,
                        C.RSA_SHA512: xmlsec.Transform.RSA_SHA512}
DIGEST_TRANSFORMS = {C.SHA1: xmlsec.Transform.SHA1, C.SHA256: xmlsec.Transform.SHA256,
                     C.SHA384: xmlsec.Transform.SHA384, C.SHA512: xmlsec.Transform.SHA512}


def sign(xml: str | bytes, key_pem: str, cert_pem: str, sign_alg: str = C.RSA_SHA256,
         digest_alg: str = C.SHA256) -> str:
    """Signs the root element (enveloped, exclusive C14N, placed after its Issuer), as
    OpenSAML does: namespace declarations are kept as they are, including ones only used
    inside attribute values such as xsi:type="ida:IPAddressType"."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N,
                                       SIGNATURE_TRANSFORMS[sign_alg], ns="ds")
    issuer = root.find(f"{{{C.NS_SAML}}}Issuer")
    if issuer is not None:
        issuer.addnext(signature)
    else:
        root.insert(0, signature)
    reference = xmlsec.template.add_reference(signature, DIGEST_TRANSFORMS[digest_alg],
                                              uri=f"#{root.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM, None)
    context.key.load_cert_from_memory(cert_pem, xmlsec.KeyFormat.PEM)
    context.sign(signature)
    return etree.tostring(root).decode()


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
                      key_transport=xmlsec.Transform.RSA_OAEP, key_placement: str = "peer") -> str:
    """Encrypts the assertion to the broker (RSA-OAEP key transport) as an EncryptedAssertion.

    The EncryptedKey is placed as GOV.UK Verify's libraries place it (OpenSAML's PEER placement,
    verify-saml-libs' EncrypterFactory): beside the EncryptedData, which names it with a
    RetrievalMethod; `key_placement="inline"` puts it inside the EncryptedData's KeyInfo."""
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
    if key_placement == "peer":
        # Parsed again first: lxml's find() does not see the names xmlsec created in C.
        wrapper = etree.fromstring(etree.tostring(wrapper))
        _place_key_beside_the_data(wrapper)
    return etree.tostring(wrapper).decode()


def _place_key_beside_the_data(encrypted_assertion: etree._Element) -> None:
    xenc, ds = "http://www.w3.org/2001/04/xmlenc#", C.NS_DS
    data = encrypted_assertion.find(f"{{{xenc}}}EncryptedData")
    key_info = data.find(f"{{{ds}}}KeyInfo")
    key = key_info.find(f"{{{xenc}}}EncryptedKey")
    key_id = new_id()
    key.set("Id", key_id)
    key_info.remove(key)
    etree.SubElement(key_info, f"{{{ds}}}RetrievalMethod",
                     Type=f"{xenc}EncryptedKey", URI=f"#{key_id}")
    encrypted_assertion.append(key)


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


@dataclass(frozen=True)
class FraudEvent:
    """What an identity provider reports with `levelX` (Verify's fraud attributes)."""

    event_id: str = "stub-fraud-event-0001"
    gpg45_status: str = "IT01"


@dataclass
class AssertionSpec:
    """One identity provider's answer, as the hub forwards it: its authn assertion and its
    Matching Dataset assertion, both made for the hub (the hub's ACS as Recipient, the hub's
    request as InResponseTo, no Conditions). Tests change fields to build bad ones.

    `in_response_to` is the broker's AuthnRequest, which the hub-signed Response answers."""

    issuer: str
    recipient: str
    in_response_to: str | None
    pid: str
    level_uri: str
    dataset: MatchingDataset
    hub_request_id: str = field(default_factory=new_id)
    ip_address: str = "203.0.113.7"
    fraud: FraudEvent | None = None
    id: str = field(default_factory=new_id)  # the Matching Dataset assertion
    authn_id: str = field(default_factory=new_id)
    issued_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    authn_instant: datetime | None = None
    confirmation_not_on_or_after: datetime | None = None
    # Verify's IDP assertions carry none; tests add them to check how they are read.
    audience: str | None = None
    not_before: datetime | None = None
    not_on_or_after: datetime | None = None
    # Per assertion: "authn" or "mds" -> the other assertion's values instead (tests only).
    mds_pid: str | None = None
    mds_issuer: str | None = None

    def _subject(self, pid: str) -> str:
        confirm_after = self.confirmation_not_on_or_after or self.issued_at + timedelta(minutes=5)
        return (
            f"<saml:Subject><saml:NameID Format=\"{C.NAMEID_PERSISTENT}\">{escape(pid)}"
            "</saml:NameID>"
            f'<saml:SubjectConfirmation Method="{C.CM_BEARER}">'
            f"<saml:SubjectConfirmationData InResponseTo={quoteattr(self.hub_request_id)} "
            f'NotOnOrAfter="{saml_time(confirm_after)}" Recipient={quoteattr(self.recipient)}/>'
            "</saml:SubjectConfirmation></saml:Subject>")

    def _conditions(self) -> str:
        if self.audience is None and self.not_before is None and self.not_on_or_after is None:
            return ""
        bounds = ""
        if self.not_before:
            bounds += f' NotBefore="{saml_time(self.not_before)}"'
        if self.not_on_or_after:
            bounds += f' NotOnOrAfter="{saml_time(self.not_on_or_after)}"'
        audience = (f"<saml:AudienceRestriction><saml:Audience>{escape(self.audience)}"
                    "</saml:Audience></saml:AudienceRestriction>" if self.audience else "")
        return f"<saml:Conditions{bounds}>{audience}</saml:Conditions>"

    def _open(self, assertion_id: str, issuer: str) -> str:
        return (f'<saml:Assertion xmlns:saml="{C.NS_SAML}" xmlns:ida="{IDA_NS}" '
                f'xmlns:xsi="{XSI_NS}" ID="{assertion_id}" Version="2.0" '
                f'IssueInstant="{saml_time(self.issued_at)}">'
                f"<saml:Issuer>{escape(issuer)}</saml:Issuer>")

    def authn_xml(self) -> str:
        """The authn assertion: level of assurance, and the resident's IP address."""
        instant = self.authn_instant or self.issued_at
        attributes = [_attribute("TXN_IPaddress", _typed(self.ip_address, "IPAddressType"),
                                 friendly_name="IPAddress")]
        if self.fraud:
            attributes += [
                _attribute("FECI_IDPFraudEventID",
                           _typed(self.fraud.event_id, "IDPFraudEventType"),
                           friendly_name="IDPFraudEventID"),
                _attribute("FECI_GPG45Status", _typed(self.fraud.gpg45_status, "GPG45StatusType"),
                           friendly_name="GPG45Status")]
        return (
            self._open(self.authn_id, self.issuer) + self._subject(self.pid) + self._conditions()
            + f'<saml:AuthnStatement AuthnInstant="{saml_time(instant)}"><saml:AuthnContext>'
            f"<saml:AuthnContextClassRef>{escape(self.level_uri)}</saml:AuthnContextClassRef>"
            "</saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{''.join(attributes)}</saml:AttributeStatement>"
            "</saml:Assertion>")

    def xml(self) -> str:
        """The Matching Dataset assertion."""
        return (self._open(self.id, self.mds_issuer or self.issuer)
                + self._subject(self.mds_pid or self.pid) + self._conditions()
                + f"{attribute_statement(self.dataset)}</saml:Assertion>")


def _typed(value: str, xsi_type: str) -> str:
    return f'<saml:AttributeValue xsi:type="ida:{xsi_type}">{escape(value)}</saml:AttributeValue>'


def _attribute(name: str, values: str, friendly_name: str | None = None) -> str:
    friendly = f" FriendlyName={quoteattr(friendly_name)}" if friendly_name else ""
    return (f"<saml:Attribute Name={quoteattr(name)}{friendly} "
            f'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">{values}'
            "</saml:Attribute>")


def response_xml(issuer: str, destination: str, in_response_to: str | None, body: str,
                 status: str = STATUS + "Success", sub_status: str | None = None,
                 status_detail: str | None = None, response_id: str | None = None,
                 issue_instant: datetime | None = None) -> str:
    code = f'<samlp:StatusCode Value="{status}">'
    if sub_status:
        code += f'<samlp:StatusCode Value="{sub_status}"/>'
    code += "</samlp:StatusCode>"
    detail = (f"<samlp:StatusDetail><StatusValue xmlns=\"urn:uk:gov:verify\">{status_detail}"
              "</StatusValue></samlp:StatusDetail>" if status_detail else "")
    irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
    return (
        f'<samlp:Response xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" '
        f'ID="{response_id or new_id()}" Version="2.0" '
        f'IssueInstant="{saml_time(issue_instant or datetime.now(UTC))}" '
        f"Destination={quoteattr(destination)}{irt}>"
        f"<saml:Issuer>{escape(issuer)}</saml:Issuer>"
        f"<samlp:Status>{code}{detail}</samlp:Status>{body}</samlp:Response>"
    )


@dataclass(frozen=True)
class HubSigner:
    """An entity that signs: the hub, or an identity provider."""

    entity_id: str
    key_pem: str
    cert_pem: str


def signed_encrypted_assertion(assertion_xml: str, signer: HubSigner, encryption_cert: str
                               ) -> str:
    signed = sign(assertion_xml, signer.key_pem, signer.cert_pem)
    return encrypt_assertion(_without_declaration(signed), encryption_cert)


def success_response(hub: HubSigner, idp: HubSigner, spec: AssertionSpec,
                     broker_encryption_cert: str, destination: str) -> str:
    """The normal case: a Response signed by the hub around the identity provider's two signed
    assertions (authn, Matching Dataset), each encrypted to the broker."""
    body = (signed_encrypted_assertion(spec.authn_xml(), idp, broker_encryption_cert)
            + signed_encrypted_assertion(spec.xml(), idp, broker_encryption_cert))
    return sign(response_xml(hub.entity_id, destination, spec.in_response_to, body),
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


def _key_descriptors(use: str, certs: tuple[str, ...]) -> str:
    return "".join(
        f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{strip_pem(cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for cert in certs)


@dataclass(frozen=True)
class Federation:
    """What the federation's metadata publishes: the hub (an SPSSODescriptor only, two signing
    keys and one encryption key, no SSO location) and one entity per identity provider."""

    metadata_key_pem: str
    metadata_cert_pem: str
    hub: HubSigner
    hub_other_signing_cert_pem: str
    hub_encryption_cert_pem: str
    idps: tuple[HubSigner, ...]


def federation_metadata(federation: Federation, valid_until: datetime | None = None,
                        extra_hub_signing_certs: tuple[str, ...] = (),
                        extra_idps: tuple[HubSigner, ...] = ()) -> str:
    """The federation's md:EntitiesDescriptor, signed with the metadata signing key.

    `extra_hub_signing_certs` are published beside the hub's, as the hub does while it rotates.
    """
    valid_until = valid_until or datetime.now(UTC) + timedelta(days=2)
    hub = federation.hub
    hub_signing = (hub.cert_pem, federation.hub_other_signing_cert_pem, *extra_hub_signing_certs)
    entities = (
        f"<md:EntityDescriptor entityID={quoteattr(hub.entity_id)}>"
        f'<md:SPSSODescriptor protocolSupportEnumeration="{C.NS_SAMLP}">'
        + _key_descriptors("signing", hub_signing)
        + _key_descriptors("encryption", (federation.hub_encryption_cert_pem,))
        + f'<md:AssertionConsumerService Binding="{C.BINDING_HTTP_POST}" '
        f'Location={quoteattr(hub.entity_id + "/SAML2/SSO/Response/POST")} index="1"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>")
    for idp in (*federation.idps, *extra_idps):
        entities += (
            f"<md:EntityDescriptor entityID={quoteattr(idp.entity_id)}>"
            f'<md:IDPSSODescriptor protocolSupportEnumeration="{C.NS_SAMLP}">'
            + _key_descriptors("signing", (idp.cert_pem,))
            + f'<md:SingleSignOnService Binding="{C.BINDING_HTTP_POST}" '
            f'Location={quoteattr(idp.entity_id + "/SAML2/SSO")}/>'
            "</md:IDPSSODescriptor></md:EntityDescriptor>")
    xml = (f'<md:EntitiesDescriptor xmlns:md="{MD}" xmlns:ds="{C.NS_DS}" ID="{new_id()}" '
           f'Name="urn:uk:gov:broker:stub-federation" validUntil="{saml_time(valid_until)}">'
           f"{entities}</md:EntitiesDescriptor>")
    return sign(xml, federation.metadata_key_pem, federation.metadata_cert_pem)


def level_uri(level: LevelOfAssurance) -> str:
    return level.uri
