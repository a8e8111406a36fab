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
from broker.hub.outcomes import FailureReason, HubFailure, ResponseRejected
from broker.hub.saml_schema import verify_protocol_schema
from broker.hub.saml_values import NS, SAML, SAMLP, exact, saml_instant, verify_signature
from broker.hub.saml_xml import UnacceptableXml, parse_xml
from broker.identity import Flow, VerifiedIdentity
from broker.pairwise import hash_pid
from broker.state import BrokerState

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


def read_response(saml_response: str, flow: Flow, config: BrokerConfig, hub: HubMetadata,
                  state: BrokerState, hashing_entity_id: str,
                  now: float | None = None) -> VerifiedIdentity | HubFailure:
    """A verified hub Response in, the resident's VerifiedIdentity or the hub's HubFailure out;
    raises ResponseRejected for anything that is not a valid answer to this flow.

    `hashing_entity_id` is the council's (its `hashing_entity_id`, by default its entity id)."""
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
    at = datetime.fromtimestamp(now, UTC)  # certificates and entities expire: checked at use
    hub_certs = hub.signing_certs_at(at)
    if not hub_certs:
        raise ResponseRejected("no signing certificate of the hub is valid now")
    verify_signature(document, hub_certs, "Response")
    _check_instant(document.get("IssueInstant"), "Response IssueInstant", now, skew)

    status = _status(document)
    if status[0] != C.STATUS_SUCCESS:
        _check_not_replayed(state, skew + MAX_MESSAGE_AGE_SECONDS, response=document.get("ID"))
        return _failure_from_status(status)

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
    if isinstance(level, HubFailure):
        _check_not_replayed(state, ttl, response=document.get("ID"))
        return level
    authenticated_at = authn_instant(idp.authn, flow, now, skew)
    _check_not_replayed(state, ttl, response=document.get("ID"),
                        authn_assertion=idp.authn.get("ID"),
                        matching_dataset_assertion=idp.matching_dataset.get("ID"))
    if level.value < flow.minimum_level.value:
        return HubFailure(FailureReason.LEVEL_NOT_MET,
                          f"asserted {level.name}, flow required {flow.minimum_level.name}")
    return VerifiedIdentity(
        hashed_pid=hash_pid(idp.issuer, hashing_entity_id, pid, level),
        persistent_id=pid,
        level_of_assurance=level,
        matching_dataset=matching_dataset(idp.matching_dataset),
        issuer=idp.issuer,
        authenticated_at=authenticated_at,
    )


def _check_envelope(document: etree._Element, flow: Flow, config: BrokerConfig,
                    hub: HubMetadata) -> None:
    if document.get("Version") != "2.0":
        raise ResponseRejected("Response Version is not 2.0")
    if document.get("InResponseTo") != flow.authn_request_id:
        raise ResponseRejected("InResponseTo does not match this flow's AuthnRequest")
    if document.get("Destination") != config.acs_url:
        raise ResponseRejected("Destination is not our assertion consumer service")
    issuers = document.findall("saml:Issuer", NS)
    if len(issuers) != 1 or exact(issuers[0], "Response Issuer") != hub.entity_id:
        raise ResponseRejected("Response Issuer is not the hub")


def _check_instant(value: str | None, what: str, now: float, skew: int) -> None:
    """Issued neither in the future nor longer ago than a message may take to arrive."""
    if not value:
        raise ResponseRejected(f"{what} is missing")
    instant = saml_instant(value)
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


def _check_not_replayed(state: BrokerState, ttl: int, **ids: str | None) -> None:
    """Marks every id seen (one round trip); any seen before rejects the message."""
    for kind, ident in ids.items():
        if not ident:
            raise ResponseRejected(f"{kind} has no ID")
    firsts = state.first_sightings([(kind, ident, max(ttl, 1)) for kind, ident in ids.items()])
    for (kind, ident), first in zip(ids.items(), firsts, strict=True):
        if not first:
            raise ResponseRejected(f"{kind} {ident} was already used")
