"""Validation of the hub's Responses and their translation into the protocol-neutral model.

python3-saml does the XML-DSig, decryption, schema and wrapping checks. On top of it this module
enforces what GOV.UK Verify's profile adds and python3-saml leaves lax: InResponseTo is
mandatory and bound to the flow, exactly one bearer SubjectConfirmation whose Recipient is our
assertion consumer service, exactly one Audience equal to our entityID, the configured clock skew,
replay caches shared by every broker process, levels of assurance, and values free of comments.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlparse

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from broker.config import BrokerConfig, KeyPair
from broker.hub import (
    saml_keys,  # noqa: F401  (reuses the decryption keys manager)
    saml_xpath,  # noqa: F401  (compiled XPath for python3-saml's checks)
)
from broker.hub.metadata import HubMetadata
from broker.hub.saml_clock import clock_behind, parse_saml_time
from broker.hub.saml_schema import verify_protocol_schema  # noqa: F401  (installs the ida types)
from broker.identity import (
    Address,
    Flow,
    LevelOfAssurance,
    MatchingDataset,
    MatchingValue,
    VerifiedIdentity,
)
from broker.pairwise import hash_pid
from broker.state import BrokerState

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024
IDA_NS = "http://www.cabinetoffice.gov.uk/resource-library/ida/attributes"
NS = {"saml": C.NS_SAML, "samlp": C.NS_SAMLP, "ida": IDA_NS}
STATUS_PREFIX = "urn:oasis:names:tc:SAML:2.0:status:"


class FailureReason(enum.Enum):
    """Why a sign-in did not produce a verified identity; each has its own resident page."""

    CANCELLED = "cancelled"
    AUTHN_FAILED = "authn-failed"
    LOA_PENDING = "loa-pending"
    LEVEL_NOT_MET = "level-not-met"
    NO_PASSIVE = "no-passive"
    HUB_ERROR = "hub-error"
    REJECTED = "rejected"

    @property
    def oidc_error(self) -> str:
        return {
            FailureReason.CANCELLED: "access_denied",
            FailureReason.AUTHN_FAILED: "access_denied",
            FailureReason.LOA_PENDING: "access_denied",
            FailureReason.LEVEL_NOT_MET: "access_denied",
            FailureReason.NO_PASSIVE: "login_required",
            FailureReason.HUB_ERROR: "temporarily_unavailable",
            FailureReason.REJECTED: "access_denied",
        }[self]


@dataclass(frozen=True)
class HubFailure:
    reason: FailureReason
    detail: str

    @property
    def oidc_error(self) -> str:
        return self.reason.oidc_error


class ResponseRejected(Exception):
    """The message is not a valid answer from the hub to this flow; never becomes a sign-in."""


_SETTINGS: dict[tuple, OneLogin_Saml2_Settings] = {}


def saml_settings(config: BrokerConfig, hub: HubMetadata, decryption: KeyPair
                  ) -> OneLogin_Saml2_Settings:
    """python3-saml's settings for one hub metadata and decryption key, built once: building
    them re-validates and re-formats every certificate and key, and a Response only reads them."""
    key = (config.saml.entity_id, config.acs_url, hub.entity_id, hub.sso_url, hub.signing_certs,
           decryption.cert_pem, decryption.key_pem)
    settings = _SETTINGS.get(key)
    if settings is None:
        if len(_SETTINGS) >= 16:  # metadata or keys rotated many times: start again
            _SETTINGS.clear()
        settings = _SETTINGS[key] = _build_settings(config, hub, decryption)
    return settings


def _build_settings(config: BrokerConfig, hub: HubMetadata, decryption: KeyPair
                    ) -> OneLogin_Saml2_Settings:
    return OneLogin_Saml2_Settings({
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": config.saml.entity_id,
            "assertionConsumerService": {"url": config.acs_url, "binding": C.BINDING_HTTP_POST},
            "NameIDFormat": C.NAMEID_PERSISTENT,
            "x509cert": decryption.cert_pem,
            "privateKey": decryption.key_pem,
        },
        "idp": {
            "entityId": hub.entity_id,
            "singleSignOnService": {"url": hub.sso_url, "binding": C.BINDING_HTTP_POST},
            "x509certMulti": {"signing": list(hub.signing_certs)},
        },
        "security": {
            "authnRequestsSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": True,
            "wantNameId": True,
            "wantAttributeStatement": True,
            "rejectDeprecatedAlgorithm": True,
            "requestedAuthnContext": False,
            "allowRepeatAttributeName": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
        },
    }, sp_validation_only=True)


def _request_data(acs_url: str, post_data: dict[str, str]) -> dict:
    url = urlparse(acs_url)
    return {"https": "on" if url.scheme == "https" else "off", "http_host": url.netloc,
            "script_name": url.path, "post_data": post_data}


def decode_response(saml_response: str) -> bytes:
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise ResponseRejected("SAMLResponse is larger than allowed")
    try:
        return base64.b64decode(saml_response, validate=True)
    except (binascii.Error, ValueError):
        raise ResponseRejected("SAMLResponse is not valid base64") from None


def read_response(saml_response: str, flow: Flow, config: BrokerConfig, hub: HubMetadata,
                  state: BrokerState, council_entity_id: str,
                  now: float | None = None) -> VerifiedIdentity | HubFailure:
    """Returns the verified identity or the hub's failure; raises ResponseRejected otherwise."""
    xml = decode_response(saml_response)
    now = time.time() if now is None else now
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as exc:
        raise ResponseRejected(f"not acceptable XML: {type(exc).__name__}") from None
    if document.tag != f"{{{C.NS_SAMLP}}}Response":
        raise ResponseRejected("not a samlp:Response")
    _check_envelope(document, flow, config, hub)

    status = _status(document)
    if status[0] != C.STATUS_SUCCESS:
        _verify_response_signature(document, hub)
        _check_not_replayed(state, config.saml.clock_skew_seconds + 3600,
                            response=document.get("ID"))
        return _failure_from_status(status)

    _check_encryption_algorithms(document)
    response = _decrypt(saml_response, config, hub)
    request_data = _request_data(config.acs_url, {"SAMLResponse": saml_response})
    try:
        with clock_behind(config.saml.clock_skew_seconds):
            response.is_valid(request_data, request_id=flow.authn_request_id,
                              raise_exceptions=True)
    except Exception as exc:
        raise ResponseRejected(f"python3-saml: {exc}") from None

    assertion = _the_assertion(response)
    skew = config.saml.clock_skew_seconds
    not_on_or_after = _check_subject_confirmation(assertion, flow, config, now, skew)
    _check_conditions(assertion, config, now, skew)
    issuer = _text(assertion.find("saml:Issuer", NS), "assertion Issuer")
    response_issuer = _text(document.find("saml:Issuer", NS), "Response Issuer")
    if issuer != response_issuer:
        raise ResponseRejected("the Assertion's Issuer differs from the Response's")

    level = _level_of_assurance(assertion)
    if isinstance(level, HubFailure):
        return level
    if level.value < flow.minimum_level.value:
        return HubFailure(FailureReason.LEVEL_NOT_MET,
                          f"asserted {level.name}, flow required {flow.minimum_level.name}")

    ttl = int(not_on_or_after - now) + skew
    _check_not_replayed(state, ttl, response=document.get("ID"), assertion=assertion.get("ID"))

    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    pid = _simple_value(name_id, "NameID")
    if name_id.get("Format") not in (None, C.NAMEID_PERSISTENT):
        raise ResponseRejected("NameID is not persistent")
    return VerifiedIdentity(
        hashed_pid=hash_pid(issuer, council_entity_id, pid, level),
        persistent_id=pid,
        level_of_assurance=level,
        matching_dataset=matching_dataset(assertion),
        issuer=issuer,
        authenticated_at=int(now),
    )


def _check_envelope(document: etree._Element, flow: Flow, config: BrokerConfig,
                    hub: HubMetadata) -> None:
    if document.get("InResponseTo") != flow.authn_request_id:
        raise ResponseRejected("InResponseTo does not match this flow's AuthnRequest")
    if document.get("Destination") != config.acs_url:
        raise ResponseRejected("Destination is not our assertion consumer service")
    issuer = document.find("saml:Issuer", NS)
    if issuer is None or (issuer.text or "").strip() != hub.entity_id:
        raise ResponseRejected("Response Issuer is not the hub")


def _status(document: etree._Element) -> tuple[str, str | None, str | None]:
    code = document.find("samlp:Status/samlp:StatusCode", NS)
    if code is None:
        raise ResponseRejected("Response has no StatusCode")
    sub = code.find("samlp:StatusCode", NS)
    detail = document.find("samlp:Status/samlp:StatusDetail", NS)
    detail_text = " ".join(detail.itertext()).strip() if detail is not None else None
    return code.get("Value"), sub.get("Value") if sub is not None else None, detail_text


def _failure_from_status(status: tuple[str, str | None, str | None]) -> HubFailure:
    top, sub, detail = status
    sub_name = (sub or "").removeprefix(STATUS_PREFIX)
    top_name = (top or "").removeprefix(STATUS_PREFIX)
    described = f"{top_name}/{sub_name or '-'}"
    if sub_name == "NoAuthnContext":
        if detail and "loa-pending" in detail:
            return HubFailure(FailureReason.LOA_PENDING, described)
        return HubFailure(FailureReason.CANCELLED, described)
    if sub_name == "AuthnFailed":
        return HubFailure(FailureReason.AUTHN_FAILED, described)
    if sub_name == "NoPassive":
        return HubFailure(FailureReason.NO_PASSIVE, described)
    return HubFailure(FailureReason.HUB_ERROR, described)


def _verify_response_signature(document: etree._Element, hub: HubMetadata) -> None:
    """A failure status is only believed when the hub signed it."""
    signatures = document.findall(f"{{{C.NS_DS}}}Signature")
    if len(signatures) != 1:
        raise ResponseRejected("failure Response is not signed")
    algorithms = [m.get("Algorithm") for tag in ("SignatureMethod", "DigestMethod")
                  for m in signatures[0].iter(f"{{{C.NS_DS}}}{tag}")]
    if any(a in C.DEPRECATED_ALGORITHMS for a in algorithms):
        raise ResponseRejected("failure Response uses a deprecated algorithm")
    reference = signatures[0].find(f".//{{{C.NS_DS}}}Reference")
    if reference is None or reference.get("URI") != f"#{document.get('ID')}":
        raise ResponseRejected("failure Response signature does not cover the Response")
    if not OneLogin_Saml2_Utils.validate_sign(
            document, multicerts=list(hub.signing_certs),
            xpath=OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH):
        raise ResponseRejected("failure Response signature does not verify")


XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
CONTENT_ALGORITHMS = {XENC + "aes128-cbc", XENC + "aes192-cbc", XENC + "aes256-cbc",
                      XENC11 + "aes128-gcm", XENC11 + "aes192-gcm", XENC11 + "aes256-gcm"}
KEY_TRANSPORT_ALGORITHMS = {XENC + "rsa-oaep-mgf1p", XENC11 + "rsa-oaep"}


def _check_encryption_algorithms(document: etree._Element) -> None:
    """RSA-OAEP key transport and AES content encryption only (the profile's choices).

    xmlsec would also decrypt RSA PKCS#1 v1.5 key transport (open to Bleichenbacher-style
    oracles) and Triple DES; neither is ever what the hub sends, so neither is tried.
    """
    for encrypted in document.iter(f"{{{XENC}}}EncryptedData"):
        method = encrypted.find(f"{{{XENC}}}EncryptionMethod")
        if method is None or method.get("Algorithm") not in CONTENT_ALGORITHMS:
            raise ResponseRejected("assertion uses an unacceptable content encryption algorithm")
    for key in document.iter(f"{{{XENC}}}EncryptedKey"):
        method = key.find(f"{{{XENC}}}EncryptionMethod")
        if method is None or method.get("Algorithm") not in KEY_TRANSPORT_ALGORITHMS:
            raise ResponseRejected("assertion uses an unacceptable key transport algorithm")


def _decrypt(saml_response: str, config: BrokerConfig, hub: HubMetadata
             ) -> OneLogin_Saml2_Response:
    """Tries each configured encryption key, so both decrypt during a rotation."""
    last_error: Exception | None = None
    for pair in config.saml.encryption:
        try:
            return OneLogin_Saml2_Response(saml_settings(config, hub, pair), saml_response)
        except Exception as exc:
            last_error = exc
    raise ResponseRejected(f"assertion could not be decrypted: {last_error}") from None


def _the_assertion(response: OneLogin_Saml2_Response) -> etree._Element:
    nodes = response._query_assertion("")
    if len(nodes) != 1:
        raise ResponseRejected("expected exactly one signed Assertion")
    return nodes[0]


def _check_subject_confirmation(assertion: etree._Element, flow: Flow, config: BrokerConfig,
                                now: float, skew: int) -> float:
    confirmations = assertion.findall("saml:Subject/saml:SubjectConfirmation", NS)
    if len(confirmations) != 1 or confirmations[0].get("Method") != C.CM_BEARER:
        raise ResponseRejected("expected exactly one bearer SubjectConfirmation")
    data = confirmations[0].findall("saml:SubjectConfirmationData", NS)
    if len(data) != 1:
        raise ResponseRejected("expected exactly one SubjectConfirmationData")
    data = data[0]
    if data.get("InResponseTo") != flow.authn_request_id:
        raise ResponseRejected("SubjectConfirmationData InResponseTo does not match this flow")
    if data.get("Recipient") != config.acs_url:
        raise ResponseRejected("SubjectConfirmationData Recipient is not our ACS")
    if not data.get("NotOnOrAfter"):
        raise ResponseRejected("SubjectConfirmationData has no NotOnOrAfter")
    not_on_or_after = _time(data.get("NotOnOrAfter"))
    if now >= not_on_or_after + skew:
        raise ResponseRejected("SubjectConfirmationData has expired")
    return not_on_or_after


def _check_conditions(assertion: etree._Element, config: BrokerConfig, now: float,
                      skew: int) -> None:
    conditions = assertion.findall("saml:Conditions", NS)
    if len(conditions) != 1:
        raise ResponseRejected("expected exactly one Conditions")
    conditions = conditions[0]
    if conditions.get("NotBefore") and now < _time(conditions.get("NotBefore")) - skew:
        raise ResponseRejected("Conditions NotBefore is in the future")
    if conditions.get("NotOnOrAfter") and now >= _time(conditions.get("NotOnOrAfter")) + skew:
        raise ResponseRejected("Conditions NotOnOrAfter has passed")
    restrictions = conditions.findall("saml:AudienceRestriction", NS)
    if len(restrictions) != 1:
        raise ResponseRejected("expected exactly one AudienceRestriction")
    audiences = restrictions[0].findall("saml:Audience", NS)
    if len(audiences) != 1 or (audiences[0].text or "").strip() != config.saml.entity_id:
        raise ResponseRejected("Audience is not our entityID")


def _check_not_replayed(state: BrokerState, ttl: int, **ids: str | None) -> None:
    """Marks every id seen (one round trip); any seen before rejects the message."""
    for kind, ident in ids.items():
        if not ident:
            raise ResponseRejected(f"{kind} has no ID")
    firsts = state.first_sightings([(kind, ident, ttl) for kind, ident in ids.items()])
    for (kind, ident), first in zip(ids.items(), firsts, strict=True):
        if not first:
            raise ResponseRejected(f"{kind} {ident} was already used")


def _level_of_assurance(assertion: etree._Element) -> LevelOfAssurance | HubFailure:
    refs = assertion.findall("saml:AuthnStatement/saml:AuthnContext/saml:AuthnContextClassRef",
                             NS)
    if len(refs) != 1:
        raise ResponseRejected("expected exactly one AuthnContextClassRef")
    uri = _simple_value(refs[0], "AuthnContextClassRef")
    try:
        return LevelOfAssurance.from_uri(uri)
    except ValueError:
        return HubFailure(FailureReason.LEVEL_NOT_MET, "the hub asserted an unusable level")


def _time(value: str) -> float:
    try:
        return float(parse_saml_time(value))
    except Exception:
        raise ResponseRejected(f"not a SAML time: {value!r}") from None


def _text(node: etree._Element | None, what: str) -> str:
    if node is None:
        raise ResponseRejected(f"{what} is missing")
    return _simple_value(node, what)


def _simple_value(node: etree._Element | None, what: str) -> str:
    """The text of a leaf element; comments or child nodes inside it are refused outright.

    A comment splits text nodes, and libraries that read only the first one have let an
    attacker turn `admin@evil<!---->.example` into `admin@evil` (CVE-2017-11427).
    """
    if node is None:
        raise ResponseRejected(f"{what} is missing")
    if len(node):
        raise ResponseRejected(f"{what} must contain text only")
    return (node.text or "").strip()


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
