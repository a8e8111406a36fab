"""Validation of the hub's Responses and their translation into the protocol-neutral model.

GOV.UK Verify's hub answers with a Response it signs itself, whose `InResponseTo` is our
AuthnRequest (the binding to the flow), carrying two encrypted assertions issued and signed by
the identity provider the resident used: the authn assertion (level of assurance, AuthnInstant,
TXN_IPaddress) and the Matching Dataset assertion. They were made for the hub, not for us: no
Conditions, the hub's Recipient, the hub's InResponseTo, which, as verify-service-provider
(ADR 0022), we do not check. python3-saml's Response class handles one assertion signed by the
party that signs the Response, so the checks here are our own, layered as verify-service-
provider layers its validators, on xmlsec's primitives (signature verification of a given
element, decryption) and the SAML protocol schema.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import xmlsec
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.config import BrokerConfig
from broker.hub.metadata import HubMetadata
from broker.hub.saml_keys import decryption_key
from broker.hub.saml_schema import verify_protocol_schema
from broker.hub.saml_xml import UnacceptableXml, parse_xml
from broker.hub.xml_signatures import SignatureRefused, verify_enveloped
from broker.identity import (
    Address,
    Flow,
    LevelOfAssurance,
    MatchingDataset,
    MatchingValue,
)
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024
# How old a Response or assertion may be when it arrives (verify-service-provider's
# InstantValidator allows five minutes), on top of the configured clock skew.
MAX_MESSAGE_AGE_SECONDS = 300
IDA_NS = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
NS = {"saml": C.NS_SAML, "samlp": C.NS_SAMLP, "ida": IDA_NS, "ds": C.NS_DS}
STATUS_PREFIX = "urn:oasis:names:tc:SAML:2.0:status:"
LEVEL_X_URI = "urn:uk:gov:cabinet-office:tc:saml:authn-context:levelX"
SAML = f"{{{C.NS_SAML}}}"
SAMLP = f"{{{C.NS_SAMLP}}}"


class ResponseRejected(Exception):
    """The message is not a valid answer from the hub to this flow; never becomes a sign-in."""


@dataclass(frozen=True)
class IdpAssertions:
    """The identity provider's two verified assertions, and who issued them."""

    issuer: str
    authn: etree._Element
    matching_dataset: etree._Element


def decode_response(saml_response: str) -> bytes:
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise ResponseRejected("SAMLResponse is larger than allowed")
    try:
        return base64.b64decode(saml_response, validate=True)
    except (binascii.Error, ValueError):
        raise ResponseRejected("SAMLResponse is not valid base64") from None


def read_response(saml_response: str, flow: Flow, config: BrokerConfig, hub: HubMetadata,
                  now: float | None = None) -> UpstreamAnswer | UpstreamFailure:
    """A verified hub Response in, the resident's UpstreamAnswer or the hub's UpstreamFailure
    out; raises ResponseRejected for anything that is not a valid answer to this flow.

    What is not SAML's (the level against the flow's minimum, AuthnInstant against `max_age`
    and `prompt=login`, the Response's freshness, replay of the Response's and the assertions'
    IDs) the journey checks for every upstream, from the facts returned here."""
    xml = decode_response(saml_response)
    now = time.time() if now is None else now
    skew = config.saml.clock_skew_seconds
    try:
        document = parse_xml(xml)
    except UnacceptableXml as exc:
        raise ResponseRejected(f"not acceptable XML: {exc}") from None
    if document.tag != f"{SAMLP}Response":
        raise ResponseRejected("not a samlp:Response")
    _check_envelope(document, flow, config, hub)
    if any(True for _ in document.iter(f"{SAML}Assertion")):
        raise ResponseRejected("the Response holds a plain (unencrypted) Assertion")
    _verify(document, hub.signing_certs, "Response")
    issued_at = _issue_instant(document.get("IssueInstant"), "Response IssueInstant")
    response_id = _message_id(document, "response")

    status = _status(document)
    if status[0] != C.STATUS_SUCCESS:
        failure = _failure_from_status(status)
        failure.answer_ids, failure.remember_for = (response_id,), skew + MAX_MESSAGE_AGE_SECONDS
        return failure

    assertions = _decrypted_assertions(document, config)
    if not verify_protocol_schema().validate(document):
        # The schema's error log can quote attribute values (personal data): not logged.
        raise ResponseRejected("the Response is not valid against the SAML schema")
    idp = _verified_idp_assertions(assertions, hub)
    not_on_or_after = max(_check_subject(a, now, skew) for a in assertions)
    for assertion in assertions:
        _check_instant(assertion.get("IssueInstant"), "Assertion IssueInstant", now, skew)
        _check_conditions(assertion, config, hub, now, skew)

    pid = _name_id(idp.authn)
    if _name_id(idp.matching_dataset) != pid:
        raise ResponseRejected("the two assertions name different subjects")
    # Remembered for as long as any of them could still be accepted.
    ttl = max(int(not_on_or_after - now) + skew, skew + MAX_MESSAGE_AGE_SECONDS)
    level = _level_of_assurance(idp.authn)
    if isinstance(level, UpstreamFailure):
        level.answer_ids, level.remember_for = (response_id,), ttl
        return level
    answer_ids = (response_id, _message_id(idp.authn, "authn_assertion"),
                  _message_id(idp.matching_dataset, "matching_dataset_assertion"))
    return UpstreamAnswer(
        upstream="verify", issuer=idp.issuer, subject=pid, level=level,
        matching_dataset=matching_dataset(idp.matching_dataset),
        auth_time=_authn_instant(idp.authn), issued_at=int(issued_at),
        answer_ids=answer_ids, remember_for=ttl)


def _message_id(element: etree._Element, what: str) -> str:
    """`what:ID`, the key under which the journey remembers the message against replay."""
    ident = element.get("ID")
    if not ident:
        raise ResponseRejected(f"{what} has no ID")
    return f"{what}:{ident}"


def _check_envelope(document: etree._Element, flow: Flow, config: BrokerConfig,
                    hub: HubMetadata) -> None:
    if document.get("Version") != "2.0":
        raise ResponseRejected("Response Version is not 2.0")
    if flow.saml is None or document.get("InResponseTo") != flow.saml.authn_request_id:
        raise ResponseRejected("InResponseTo does not match this flow's AuthnRequest")
    if document.get("Destination") != config.acs_url:
        raise ResponseRejected("Destination is not our assertion consumer service")
    issuers = document.findall("saml:Issuer", NS)
    if len(issuers) != 1 or _exact(issuers[0], "Response Issuer") != hub.entity_id:
        raise ResponseRejected("Response Issuer is not the hub")


def _verify(element: etree._Element, certs: tuple[str, ...], what: str) -> None:
    try:
        verify_enveloped(element, certs, what)
    except SignatureRefused as exc:
        raise ResponseRejected(str(exc)) from None


def _issue_instant(value: str | None, what: str) -> float:
    if not value:
        raise ResponseRejected(f"{what} is missing")
    return _time(value)


def _check_instant(value: str | None, what: str, now: float, skew: int) -> None:
    """Issued neither in the future nor longer ago than a message may take to arrive."""
    instant = _issue_instant(value, what)
    if instant > now + skew:
        raise ResponseRejected(f"{what} is in the future")
    if instant < now - skew - MAX_MESSAGE_AGE_SECONDS:
        raise ResponseRejected(f"{what} is too old")


def _status(document: etree._Element) -> tuple[str, str | None, str | None]:
    code = document.find("samlp:Status/samlp:StatusCode", NS)
    if code is None:
        raise ResponseRejected("Response has no StatusCode")
    sub = code.find("samlp:StatusCode", NS)
    detail = document.find("samlp:Status/samlp:StatusDetail", NS)
    detail_text = " ".join(detail.itertext()).strip() if detail is not None else None
    return code.get("Value"), sub.get("Value") if sub is not None else None, detail_text


def _failure_from_status(status: tuple[str, str | None, str | None]) -> UpstreamFailure:
    top, sub, detail = status
    sub_name = (sub or "").removeprefix(STATUS_PREFIX)
    top_name = (top or "").removeprefix(STATUS_PREFIX)
    described = f"{top_name}/{sub_name or '-'}"
    if sub_name == "NoAuthnContext":
        if detail and "loa-pending" in detail:
            return UpstreamFailure(FailureKind.PENDING, described)
        return UpstreamFailure(FailureKind.CANCELLED, described)
    if sub_name == "AuthnFailed":
        return UpstreamFailure(FailureKind.AUTHENTICATION_FAILED, described)
    if sub_name == "NoPassive":
        return UpstreamFailure(FailureKind.LOGIN_REQUIRED, described)
    return UpstreamFailure(FailureKind.UNAVAILABLE, described)


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


def _decrypted_assertions(document: etree._Element, config: BrokerConfig
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
        assertion = _decrypt(element, config)
        if assertion.tag != f"{SAML}Assertion":
            raise ResponseRejected("an EncryptedAssertion does not hold an Assertion")
        element.getparent().replace(element, assertion)
        assertions.append(assertion)
    return assertions


def _decrypt(encrypted_assertion: etree._Element, config: BrokerConfig) -> etree._Element:
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


def _verified_idp_assertions(assertions: list[etree._Element], hub: HubMetadata
                             ) -> IdpAssertions:
    """Both assertions signed by one identity provider of the federation, with its own key."""
    issuers = []
    for assertion in assertions:
        found = assertion.findall("saml:Issuer", NS)
        if len(found) != 1:
            raise ResponseRejected("an Assertion must have exactly one Issuer")
        issuer = _exact(found[0], "Assertion Issuer")
        provider = hub.identity_provider(issuer)
        if provider is None:
            raise ResponseRejected("Assertion Issuer is not an identity provider of the "
                                   "federation")
        _verify(assertion, provider.signing_certs, "Assertion")
        issuers.append(issuer)
    if issuers[0] != issuers[1]:
        raise ResponseRejected("the two assertions have different Issuers")
    authn = [a for a in assertions if a.find("saml:AuthnStatement", NS) is not None]
    if len(authn) != 1:
        raise ResponseRejected("expected one authn assertion and one Matching Dataset assertion")
    mds = next(a for a in assertions if a is not authn[0])
    return IdpAssertions(issuers[0], authn[0], mds)


def _check_subject(assertion: etree._Element, now: float, skew: int) -> float:
    """One bearer confirmation, still in date. Recipient and InResponseTo are the hub's: the
    binding to our flow is the hub-signed Response's InResponseTo (verify-service-provider
    ADR 0022)."""
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    if len(confirmations) != 1 or confirmations[0].get("Method") != C.CM_BEARER:
        raise ResponseRejected("expected exactly one bearer SubjectConfirmation")
    data = confirmations[0].findall("saml:SubjectConfirmationData", NS)
    if len(data) != 1 or not data[0].get("NotOnOrAfter"):
        raise ResponseRejected("SubjectConfirmationData has no NotOnOrAfter")
    not_on_or_after = _time(data[0].get("NotOnOrAfter"))
    if now >= not_on_or_after + skew:
        raise ResponseRejected("SubjectConfirmationData has expired")
    if data[0].get("NotBefore") and now < _time(data[0].get("NotBefore")) - skew:
        raise ResponseRejected("SubjectConfirmationData NotBefore is in the future")
    return not_on_or_after


def _check_conditions(assertion: etree._Element, config: BrokerConfig, hub: HubMetadata,
                      now: float, skew: int) -> None:
    """Verify's identity providers send none; any that are there still hold."""
    conditions = assertion.findall("saml:Conditions", NS)
    if not conditions:
        return
    if len(conditions) != 1:
        raise ResponseRejected("more than one Conditions")
    conditions = conditions[0]
    if conditions.get("NotBefore") and now < _time(conditions.get("NotBefore")) - skew:
        raise ResponseRejected("Conditions NotBefore is in the future")
    if conditions.get("NotOnOrAfter") and now >= _time(conditions.get("NotOnOrAfter")) + skew:
        raise ResponseRejected("Conditions NotOnOrAfter has passed")
    for restriction in conditions.findall("saml:AudienceRestriction", NS):
        audiences = {_exact(a, "Audience") for a in restriction.findall("saml:Audience", NS)}
        if not audiences & {config.saml.entity_id, hub.entity_id}:
            raise ResponseRejected("Audience is neither the hub nor us")


def _name_id(assertion: etree._Element) -> str:
    name_ids = assertion.findall("saml:Subject/saml:NameID", NS)
    if len(name_ids) != 1:
        raise ResponseRejected("expected exactly one NameID")
    if name_ids[0].get("Format") not in (None, C.NAMEID_PERSISTENT):
        raise ResponseRejected("NameID is not persistent")
    pid = _exact(name_ids[0], "NameID")
    if not pid:
        raise ResponseRejected("NameID is empty")
    return pid


def _authn_instant(authn: etree._Element) -> int:
    """The moment the resident authenticated: the ID token's `auth_time` (checked against the
    flow's `max_age` and `prompt=login` by the journey, as for every upstream)."""
    statements = authn.findall("saml:AuthnStatement", NS)
    if len(statements) != 1 or not statements[0].get("AuthnInstant"):
        raise ResponseRejected("expected exactly one AuthnStatement with an AuthnInstant")
    return int(_time(statements[0].get("AuthnInstant")))


def _level_of_assurance(assertion: etree._Element) -> LevelOfAssurance | UpstreamFailure:
    refs = assertion.findall("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef",
                             NS)
    if len(refs) != 1:
        raise ResponseRejected("expected exactly one AuthnContextClassRef")
    uri = _simple_value(refs[0], "AuthnContextClassRef")
    if uri == LEVEL_X_URI:
        return UpstreamFailure(FailureKind.FRAUD, "the identity provider reported levelX")
    try:
        return LevelOfAssurance.from_uri(uri)
    except ValueError:
        return UpstreamFailure(FailureKind.NOT_PROVEN, "the hub asserted an unusable level")


def _exact(node: etree._Element, what: str) -> str:
    """An identifier's text, compared exactly: surrounding whitespace (a no-break or an em space
    after a resident's PID) would otherwise make it someone else's, or be dropped silently."""
    value = _raw_text(node, what)
    if value != value.strip():
        raise ResponseRejected(f"{what} has surrounding whitespace")
    return value


def _time(value: str) -> float:
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


def _text(node: etree._Element | None, what: str) -> str:
    if node is None:
        raise ResponseRejected(f"{what} is missing")
    return _simple_value(node, what)


def _simple_value(node: etree._Element | None, what: str) -> str:
    """The text of a leaf element; comments or child nodes inside it are refused outright.

    A comment splits text nodes, and libraries that read only the first one have let an
    attacker turn `admin@evil<!---->.example` into `admin@evil` (CVE-2017-11427).
    """
    return _raw_text(node, what).strip()


def _raw_text(node: etree._Element | None, what: str) -> str:
    if node is None:
        raise ResponseRejected(f"{what} is missing")
    if len(node):
        raise ResponseRejected(f"{what} must contain text only")
    return node.text or ""


def _date(value: str | None, what: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        # The value itself stays out of the message: it may be a date of birth.
        raise ResponseRejected(f"{what} is not a date") from None


def _flags(value: etree._Element) -> dict:
    verified = value.get(f"{{{IDA_NS}}}Verified", "false").strip().lower() == "true"
    return {"verified": verified,
            "valid_from": _date(value.get(f"{{{IDA_NS}}}From"), "From"),
            "valid_to": _date(value.get(f"{{{IDA_NS}}}To"), "To")}


def _simple_values(attribute: etree._Element, name: str) -> tuple[MatchingValue, ...]:
    return tuple(MatchingValue(value=_simple_value(v, name), **_flags(v))
                 for v in attribute.findall("saml:AttributeValue", NS))


def _addresses(attribute: etree._Element, name: str) -> tuple[Address, ...]:
    addresses = []
    for value in attribute.findall("saml:AttributeValue", NS):
        for child in value:
            if not isinstance(child.tag, str):
                raise ResponseRejected(f"{name} must not contain comments")

        def one(tag: str, node: etree._Element = value) -> str | None:
            found = node.find(f"ida:{tag}", NS)
            return _simple_value(found, f"{name} {tag}") or None if found is not None else None

        lines = tuple(_simple_value(line, f"{name} Line")
                      for line in value.findall("ida:Line", NS))[:5]
        addresses.append(Address(lines=lines, post_code=one("PostCode"),
                                 international_post_code=one("InternationalPostCode"),
                                 uprn=one("UPRN"), **_flags(value)))
    return tuple(addresses)


def matching_dataset(assertion: etree._Element) -> MatchingDataset:
    found: dict[str, etree._Element] = {}
    for attribute in assertion.findall("saml:AttributeStatement/saml:Attribute", NS):
        name = attribute.get("Name", "")
        if name in found:
            raise ResponseRejected(f"attribute {name} appears twice")
        found[name] = attribute

    def values(name: str) -> tuple[MatchingValue, ...]:
        return _simple_values(found[name], name) if name in found else ()

    def addresses(name: str) -> tuple[Address, ...]:
        return _addresses(found[name], name) if name in found else ()

    genders = values("MDS_gender")
    return MatchingDataset(
        first_names=values("MDS_firstname"),
        middle_names=tuple(v for v in values("MDS_middlename") if v.value),
        surnames=values("MDS_surname"),
        dates_of_birth=values("MDS_dateofbirth"),
        gender=genders[0] if genders else None,
        current_addresses=addresses("MDS_currentaddress"),
        previous_addresses=addresses("MDS_previousaddress"),
    )
