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

This module reads the envelope (signature, Issuer, Destination, InResponseTo, IssueInstant, the
status) and puts the steps together; broker/hub/assertions.py decrypts and checks the two
assertions, broker/hub/matching_dataset.py translates the Matching Dataset.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from datetime import UTC, datetime

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.config import BrokerConfig
from broker.hub.assertions import (
    authn_instant,
    check_conditions,
    check_subject,
    decrypted_assertions,
    level_of_assurance,
    name_id,
    verified_idp_assertions,
)
from broker.hub.federation import HubMetadata
from broker.hub.matching_dataset import matching_dataset
from broker.hub.outcomes import NotThisRequest, ResponseRejected
from broker.hub.saml_schema import verify_protocol_schema
from broker.hub.saml_values import NS, SAML, SAMLP, exact, saml_instant, verify_signature
from broker.hub.saml_xml import UnacceptableXml, parse_xml
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure

log = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 256 * 1024
# How old a Response or assertion may be when it arrives (verify-service-provider's
# InstantValidator allows five minutes), on top of the configured clock skew.
MAX_MESSAGE_AGE_SECONDS = 300
STATUS_PREFIX = "urn:oasis:names:tc:SAML:2.0:status:"


def decode_response(saml_response: str) -> bytes:
    if len(saml_response) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise ResponseRejected("SAMLResponse is larger than allowed")
    try:
        return base64.b64decode(saml_response, validate=True)
    except (binascii.Error, ValueError):
        raise ResponseRejected("SAMLResponse is not valid base64") from None


def read_response(saml_response: str, authn_request_id: str, config: BrokerConfig,
                  hub: HubMetadata, now: float | None = None) -> UpstreamAnswer | UpstreamFailure:
    """A verified hub Response in, the resident's UpstreamAnswer or the hub's UpstreamFailure
    out; raises ResponseRejected for anything that is not a valid answer to the AuthnRequest
    `authn_request_id` (the one sent for the flow the RelayState names: `authn_request_id_for`).

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
    _check_envelope(document, authn_request_id, config, hub)
    if any(True for _ in document.iter(f"{SAML}Assertion")):
        raise ResponseRejected("the Response holds a plain (unencrypted) Assertion")
    at = datetime.fromtimestamp(now, UTC)  # certificates and entities expire: checked at use
    hub_certs = hub.signing_certs_at(at)
    if not hub_certs:
        raise ResponseRejected("no signing certificate of the hub is valid now")
    verify_signature(document, hub_certs, "Response")
    issued_at = _issue_instant(document.get("IssueInstant"), "Response IssueInstant")
    response_id = _message_id(document, "response")

    status = _status(document)
    if status[0] != C.STATUS_SUCCESS:
        failure = _failure_from_status(status)
        failure.answer_ids, failure.remember_for = (response_id,), skew + MAX_MESSAGE_AGE_SECONDS
        return failure

    assertions = decrypted_assertions(document, config)
    if not verify_protocol_schema().validate(document):
        # The schema's error log can quote attribute values (personal data): not logged.
        raise ResponseRejected("the Response is not valid against the SAML schema")
    idp = verified_idp_assertions(assertions, hub, at)
    not_on_or_after = max(check_subject(a, now, skew) for a in assertions)
    for assertion in assertions:
        _check_instant(assertion.get("IssueInstant"), "Assertion IssueInstant", now, skew)
        check_conditions(assertion, config, hub, now, skew)

    pid = name_id(idp.authn)
    if name_id(idp.matching_dataset) != pid:
        raise ResponseRejected("the two assertions name different subjects")
    # Remembered for as long as any of them could still be accepted.
    ttl = max(int(not_on_or_after - now) + skew, skew + MAX_MESSAGE_AGE_SECONDS)
    level = level_of_assurance(idp.authn)
    if isinstance(level, UpstreamFailure):
        level.answer_ids, level.remember_for = (response_id,), ttl
        return level
    answer_ids = (response_id, _message_id(idp.authn, "authn_assertion"),
                  _message_id(idp.matching_dataset, "matching_dataset_assertion"))
    return UpstreamAnswer(
        upstream="verify", issuer=idp.issuer, subject=pid, level=level,
        matching_dataset=matching_dataset(idp.matching_dataset),
        auth_time=authn_instant(idp.authn), issued_at=int(issued_at),
        answer_ids=answer_ids, remember_for=ttl)


def _message_id(element: etree._Element, what: str) -> str:
    """`what:ID`, the key under which the journey remembers the message against replay."""
    ident = element.get("ID")
    if not ident:
        raise ResponseRejected(f"{what} has no ID")
    return f"{what}:{ident}"


def _check_envelope(document: etree._Element, authn_request_id: str, config: BrokerConfig,
                    hub: HubMetadata) -> None:
    if document.get("Version") != "2.0":
        raise ResponseRejected("Response Version is not 2.0")
    if document.get("InResponseTo") != authn_request_id:
        raise NotThisRequest("InResponseTo does not match this flow's AuthnRequest")
    if document.get("Destination") != config.acs_url:
        raise ResponseRejected("Destination is not our assertion consumer service")
    issuers = document.findall("saml:Issuer", NS)
    if len(issuers) != 1 or exact(issuers[0], "Response Issuer") != hub.entity_id:
        raise ResponseRejected("Response Issuer is not the hub")


def _issue_instant(value: str | None, what: str) -> float:
    if not value:
        raise ResponseRejected(f"{what} is missing")
    return saml_instant(value)


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
