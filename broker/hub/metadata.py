"""Trust in the hub (its signed metadata, pinned to the federation's anchor) and our own SP metadata.

The hub's metadata is only believed when its signature verifies against the trust anchor from
configuration and its `validUntil` has not passed; a failed refresh keeps the last good copy.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from broker.config import BrokerConfig, HubConfig, KeyPair

log = logging.getLogger(__name__)

METADATA_TIMEOUT = (3, 10)
MAX_METADATA_BYTES = 1_000_000
MD = "urn:oasis:names:tc:SAML:2.0:metadata"


class MetadataError(Exception):
    """The hub's metadata could not be trusted or read; the message says why."""


@dataclass(frozen=True)
class HubMetadata:
    entity_id: str
    sso_url: str
    signing_certs: tuple[str, ...]
    valid_until: datetime | None
    fetched_at: float

    @property
    def expired(self) -> bool:
        return self.valid_until is not None and self.valid_until <= datetime.now(UTC)


def strip_pem(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def parse_hub_metadata(xml: bytes, trust_anchor_pem: str) -> HubMetadata:
    """Verifies the metadata's signature against the pinned anchor, then reads the hub's details."""
    if len(xml) > MAX_METADATA_BYTES:
        raise MetadataError("metadata is larger than 1 MB")
    try:
        root = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as exc:  # defusedxml-style errors, syntax errors
        raise MetadataError(f"metadata is not acceptable XML: {exc}") from None
    if root.tag != f"{{{MD}}}EntityDescriptor":
        raise MetadataError("metadata root must be an md:EntityDescriptor")
    try:
        OneLogin_Saml2_Utils.validate_metadata_sign(root, cert=trust_anchor_pem,
                                                    raise_exceptions=True)
    except Exception as exc:
        raise MetadataError(f"metadata signature does not verify: {exc}") from None
    valid_until = None
    if root.get("validUntil"):
        valid_until = datetime.fromtimestamp(
            OneLogin_Saml2_Utils.parse_SAML_to_time(root.get("validUntil")), UTC)
        if valid_until <= datetime.now(UTC):
            raise MetadataError(f"metadata validUntil {root.get('validUntil')} has passed")
    ns = {"md": MD, "ds": C.NS_DS}
    idp = root.find("md:IDPSSODescriptor", ns)
    if idp is None:
        raise MetadataError("metadata has no IDPSSODescriptor")
    sso = [e.get("Location") for e in idp.findall("md:SingleSignOnService", ns)
           if e.get("Binding") == C.BINDING_HTTP_POST]
    if not sso:
        raise MetadataError("metadata has no HTTP-POST SingleSignOnService")
    certs = tuple(
        OneLogin_Saml2_Utils.format_cert("".join(c.text.split()))
        for kd in idp.findall("md:KeyDescriptor", ns) if kd.get("use") in (None, "signing")
        for c in kd.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", ns) if c.text
    )
    if not certs:
        raise MetadataError("metadata has no signing certificate for the hub")
    return HubMetadata(entity_id=root.get("entityID"), sso_url=sso[0], signing_certs=certs,
                       valid_until=valid_until, fetched_at=time.time())


class HubMetadataSource:
    """Loads the hub's metadata lazily and refreshes it; keeps the last good copy on failure."""

    def __init__(self, config: HubConfig):
        self.config = config
        self._current: HubMetadata | None = None
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _read(self) -> bytes:
        if self.config.metadata_file is not None:
            return self.config.metadata_file.read_bytes()
        response = requests.get(self.config.metadata_url, timeout=METADATA_TIMEOUT)
        response.raise_for_status()
        return response.content

    def refresh(self) -> HubMetadata:
        try:
            metadata = parse_hub_metadata(self._read(), self.config.trust_anchor_pem)
        except (MetadataError, requests.RequestException, OSError) as exc:
            self.last_error = str(exc)
            log.error("hub metadata refresh failed: %s", exc)
            raise MetadataError(str(exc)) from None
        self._current, self.last_error = metadata, None
        return metadata

    def current(self) -> HubMetadata:
        with self._lock:
            current = self._current
            stale = current is None or time.time() - current.fetched_at > self.config.refresh_seconds
            if stale:
                try:
                    return self.refresh()
                except MetadataError:
                    if current is None or current.expired:
                        raise
            if current.expired:
                raise MetadataError("the last good hub metadata has passed its validUntil")
            return current


def sp_metadata(config: BrokerConfig, valid_for: timedelta = timedelta(days=7)) -> str:
    """Our signed SP metadata: one signing key, one or two encryption keys, HTTP-POST ACS."""
    valid_until = (datetime.now(UTC) + valid_for).strftime("%Y-%m-%dT%H:%M:%SZ")
    saml = config.saml

    def key_descriptor(use: str, pair: KeyPair) -> str:
        return (f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
                f"{strip_pem(pair.cert_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
                "</md:KeyDescriptor>")

    keys = key_descriptor("signing", saml.signing) + "".join(
        key_descriptor("encryption", pair) for pair in saml.encryption)
    xml = (
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{C.NS_DS}" '
        f'entityID="{_attr(saml.entity_id)}" validUntil="{valid_until}" ID="_sp-metadata">'
        f'<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" '
        f'protocolSupportEnumeration="{C.NS_SAMLP}">{keys}'
        f"<md:NameIDFormat>{C.NAMEID_PERSISTENT}</md:NameIDFormat>"
        f'<md:AssertionConsumerService Binding="{C.BINDING_HTTP_POST}" '
        f'Location="{_attr(config.acs_url)}" index="0" isDefault="true"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )
    signed = OneLogin_Saml2_Utils.add_sign(xml, saml.signing.key_pem, saml.signing.cert_pem,
                                           sign_algorithm=C.RSA_SHA256,
                                           digest_algorithm=C.SHA256)
    return signed.decode() if isinstance(signed, bytes) else signed


def _attr(value: str) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(value)[1:-1]
