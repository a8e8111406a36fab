"""Trust in the federation (its signed metadata, by certificate chain) and our own SP metadata.

GOV.UK Verify's federation metadata is one signed md:EntitiesDescriptor: the hub (an
SPSSODescriptor only, its SSO URL being configuration) and one entity per identity provider. It
is only believed when its one root signature verifies with a certificate that chains to the
metadata truststore and its `validUntil` has not passed; the hub's and the identity providers'
certificates must chain to their own truststores. A failed refresh keeps the last good copy.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import requests
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.config import BrokerConfig, HubConfig
from broker.hub.saml_xml import UnacceptableXml, parse_xml
from broker.hub.trust import FederationTrust, Truststore, UntrustedCertificate
from broker.hub.xml_signatures import (
    SignatureRefused,
    enveloped_signature,
    presented_certificate,
    verify_enveloped,
)
from broker.state import BrokerState, StateUnavailable

log = logging.getLogger(__name__)

METADATA_TIMEOUT = (3, 10)
MAX_METADATA_BYTES = 1_000_000
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"md": MD, "ds": C.NS_DS}


class MetadataError(Exception):
    """The hub's metadata could not be trusted or read; the message says why."""


@dataclass(frozen=True)
class IdentityProvider:
    """An identity provider of the federation: the assertions it signs verify with these."""

    entity_id: str
    signing_certs: tuple[str, ...]


@dataclass(frozen=True)
class HubMetadata:
    """What the broker believes about the federation, every value from the signed document
    (the SSO URL excepted: it is configuration)."""

    entity_id: str
    sso_url: str
    signing_certs: tuple[str, ...]
    valid_until: datetime | None
    fetched_at: float
    identity_providers: tuple[IdentityProvider, ...] = ()

    @property
    def expired(self) -> bool:
        return self.valid_until is not None and self.valid_until <= datetime.now(UTC)

    def identity_provider(self, entity_id: str) -> IdentityProvider | None:
        return next((idp for idp in self.identity_providers if idp.entity_id == entity_id), None)


def strip_pem(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


@functools.lru_cache(maxsize=4)
def federation_trust(metadata_pem: str, hub_pem: str, idp_pem: str) -> FederationTrust:
    return FederationTrust(Truststore.from_pem("metadata", metadata_pem),
                           Truststore.from_pem("hub", hub_pem),
                           Truststore.from_pem("idp", idp_pem))


def trust_of(config: HubConfig) -> FederationTrust:
    return federation_trust(config.metadata_truststore_pem, config.hub_truststore_pem,
                            config.idp_truststore_pem)


def parse_hub_metadata(xml: bytes, config: HubConfig, now: datetime | None = None
                       ) -> HubMetadata:
    """Verifies the federation metadata's one root signature by a certificate that chains to
    the metadata truststore, then reads the hub and the identity providers from that element."""
    now = now or datetime.now(UTC)
    if len(xml) > MAX_METADATA_BYTES:
        raise MetadataError("metadata is larger than 1 MB")
    try:
        root = parse_xml(xml)
    except UnacceptableXml as exc:
        raise MetadataError(f"metadata is not acceptable XML: {exc}") from None
    if root.tag != f"{{{MD}}}EntitiesDescriptor":
        raise MetadataError("metadata root must be an md:EntitiesDescriptor")
    trust = trust_of(config)
    try:
        signature = enveloped_signature(root, "metadata", allow_empty_uri=True)
        presented = presented_certificate(signature, "metadata")
        if presented is None:
            raise SignatureRefused("the metadata signature presents no certificate")
        signer_pem = trust.metadata.verify(presented, now)
        verify_enveloped(root, (signer_pem,), "metadata", allow_empty_uri=True)
    except (SignatureRefused, UntrustedCertificate) as exc:
        raise MetadataError(str(exc)) from None
    # From here on every value is read from `root`, the element the signature covers.
    if not root.get("validUntil"):
        # Without it, a copy captured once would stay believable for ever, even after the
        # federation has rotated away from a compromised key.
        raise MetadataError("metadata has no validUntil")
    try:
        valid_until = datetime.fromtimestamp(
            OneLogin_Saml2_Utils.parse_SAML_to_time(root.get("validUntil")), UTC)
    except ValueError:
        raise MetadataError("metadata validUntil is not a SAML time") from None
    if valid_until <= now:
        raise MetadataError(f"metadata validUntil {root.get('validUntil')} has passed")
    entities = root.findall("md:EntityDescriptor", NS)
    hub = _hub_entity(entities, config.entity_id)
    hub_certs = _trusted_signing_certs(hub.find("md:SPSSODescriptor", NS), trust.hub, now,
                                       hub.get("entityID"))
    if not hub_certs:
        raise MetadataError("metadata has no signing certificate for the hub that chains to "
                            "the hub truststore (hub.truststores.hub)")
    providers = []
    for entity in entities:
        descriptor = entity.find("md:IDPSSODescriptor", NS)
        if descriptor is None:
            continue
        certs = _trusted_signing_certs(descriptor, trust.idp, now, entity.get("entityID"))
        if certs:
            providers.append(IdentityProvider(entity.get("entityID"), certs))
    return HubMetadata(entity_id=hub.get("entityID"), sso_url=config.sso_url,
                       signing_certs=hub_certs, valid_until=valid_until, fetched_at=time.time(),
                       identity_providers=tuple(providers))


def _hub_entity(entities: list[etree._Element], entity_id: str | None) -> etree._Element:
    if entity_id is not None:
        found = [e for e in entities if e.get("entityID") == entity_id]
        if len(found) != 1 or found[0].find("md:SPSSODescriptor", NS) is None:
            raise MetadataError(f"metadata has no hub entity {entity_id} with an SPSSODescriptor")
        return found[0]
    found = [e for e in entities if e.find("md:SPSSODescriptor", NS) is not None
             and e.find("md:IDPSSODescriptor", NS) is None]
    if len(found) != 1:
        raise MetadataError(f"metadata has {len(found)} entities with an SPSSODescriptor only; "
                            "set hub.entity_id to say which is the hub")
    return found[0]


def _trusted_signing_certs(descriptor: etree._Element, truststore: Truststore, now: datetime,
                           entity_id: str | None) -> tuple[str, ...]:
    """The descriptor's signing certificates that chain to `truststore`; the others are left
    out (and logged), as OpenSAML's chain-validating metadata filter leaves them out."""
    trusted = []
    for key_descriptor in descriptor.findall("md:KeyDescriptor", NS):
        if key_descriptor.get("use") not in (None, "signing"):
            continue
        for cert in key_descriptor.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS):
            if not cert.text:
                continue
            try:
                trusted.append(truststore.verify(cert.text, now))
            except UntrustedCertificate as exc:
                log.warning("hub metadata: a signing certificate of %s is left out: %s",
                            entity_id, exc)
    return tuple(trusted)


@dataclass(frozen=True)
class MetadataStatus:
    """What readiness checks and operators need to know about the hub's metadata."""

    usable: bool
    fetched_at: float | None
    valid_until: datetime | None
    last_error: str | None
    last_error_at: float | None

    @property
    def healthy(self) -> bool:
        """Usable, and the most recent refresh succeeded."""
        return self.usable and self.last_error is None

    def as_dict(self) -> dict:
        return {"usable": self.usable, "healthy": self.healthy, "fetched_at": self.fetched_at,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None,
                "last_error": self.last_error, "last_error_at": self.last_error_at}


class HubMetadataSource:
    """The hub's metadata, refreshed on one schedule shared by every broker process.

    The verified XML lives in Redis (broker.state) until its validUntil. When it is older than
    `refresh_seconds`, the one process that wins an atomic claim fetches and verifies it again;
    the others keep using the shared copy. A failed refresh leaves the last good copy in place
    (until its validUntil), is logged, and shows in `status()` on every process; the claim then
    lapses after RETRY_SECONDS, so a hub outage costs one fetch a minute, not one per request.

    Each process re-verifies the shared XML against its truststores once per distinct copy, so
    a value written into Redis by anything else is never believed on its own say-so. Between
    reads of the shared copy a process uses its own for `local_copy_seconds`: the metadata
    changes a few times a year, a sign-in happens many times a second.
    """

    RETRY_SECONDS = 60

    def __init__(self, config: HubConfig, state: BrokerState | None = None,
                 clock=time.time):
        self.config = config
        self.state = state
        self.clock = clock
        self._lock = threading.Lock()
        self._parsed: tuple[str, HubMetadata] | None = None  # (xml, verified metadata)
        self._refused: tuple[str, str] | None = None  # (xml, why): not verified again and again
        self._local_error: tuple[str, float] | None = None
        self._local_copy: tuple[float, dict] | None = None  # (read at, shared copy)

    @property
    def source(self) -> str:
        return str(self.config.metadata_file or self.config.metadata_url)

    def _read(self) -> bytes:
        if self.config.metadata_file is not None:
            return self.config.metadata_file.read_bytes()
        response = requests.get(self.config.metadata_url, timeout=METADATA_TIMEOUT)
        response.raise_for_status()
        if len(response.content) > MAX_METADATA_BYTES:
            raise MetadataError("metadata is larger than 1 MB")
        return response.content

    def _verified(self, xml: str, fetched_at: float) -> HubMetadata:
        with self._lock:
            if self._refused is not None and self._refused[0] == xml:
                raise MetadataError(self._refused[1])
            if self._parsed is None or self._parsed[0] != xml:
                try:
                    metadata = parse_hub_metadata(xml.encode(), self.config, self._now_utc())
                except MetadataError as exc:
                    self._refused = (xml, str(exc))
                    raise
                self._parsed = (xml, metadata)
            metadata = self._parsed[1]
        return replace(metadata, fetched_at=fetched_at)

    def _believable(self, shared: dict) -> bool:
        """Whether the shared copy verifies under this process's trust. One that does not was
        written under another trust (a rotated federation anchor, another checkout's demo keys)
        or by something else entirely: it is stale, not a reason to stop signing residents in."""
        try:
            self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError:
            return False
        return True

    def refresh(self) -> HubMetadata:
        """Fetches and verifies the metadata now, and shares it; raises MetadataError on failure."""
        now = self.clock()
        try:
            xml = self._read().decode("utf-8")
            metadata = self._verified(xml, now)
        except (MetadataError, requests.RequestException, OSError, UnicodeDecodeError) as exc:
            from broker.http_failures import describe_request_failure

            reason = describe_request_failure(exc, self.source)
            self._record_failure(reason, now)
            raise MetadataError(reason) from None
        if self.state is not None:
            ttl = (int(metadata.valid_until.timestamp() - now) if metadata.valid_until
                   else self.config.refresh_seconds * 24)
            self.state.save_hub_metadata(xml, now, ttl)
            self.state.save_hub_metadata_status({"last_error": None, "last_error_at": None},
                                                ttl=max(ttl, self.config.refresh_seconds))
            self._local_copy = (now, {"xml": xml, "fetched_at": now})
        self._local_error = None
        log.info("hub metadata refreshed from %s (valid until %s)", self.source,
                 metadata.valid_until.isoformat() if metadata.valid_until else "unspecified")
        return metadata

    def _record_failure(self, error: str, now: float) -> None:
        log.error("hub metadata refresh from %s failed: %s", self.source, error)
        self._local_error = (error, now)
        if self.state is not None:
            try:
                self.state.save_hub_metadata_status({"last_error": error, "last_error_at": now},
                                                    ttl=self.config.refresh_seconds * 24)
            except StateUnavailable:
                pass

    def _shared(self, fresh: bool = False) -> dict | None:
        if self.state is None:
            return None if self._parsed is None else {
                "xml": self._parsed[0], "fetched_at": self._parsed[1].fetched_at}
        now = self.clock()
        local = self._local_copy
        if not fresh and local is not None and 0 <= now - local[0] < self.config.local_copy_seconds:
            return local[1]
        shared = self.state.get_hub_metadata()
        self._local_copy = (now, shared) if shared is not None else None
        return shared

    def current(self) -> HubMetadata:
        """The trusted metadata to use now; MetadataError when there is none still valid."""
        try:
            shared = self._shared()
            if self._stale(shared) and self._claim_refresh():
                shared = self._shared(fresh=True)  # another process may have just refreshed it
                if self._stale(shared):
                    try:
                        metadata = self.refresh()
                        self._release_claim()
                        return metadata
                    except MetadataError:
                        pass  # the claim lapses after RETRY_SECONDS: the next retry
                    shared = self._shared(fresh=True)
                else:
                    self._release_claim()
            elif shared is None or not self._believable(shared):
                shared = self._own_copy() or self._await_believable_copy()
        except StateUnavailable as exc:
            log.error("hub metadata: shared store unavailable, using this process's copy: %s",
                      exc)
            shared = None
        if shared is None or not self._believable(shared):
            shared = self._own_copy()
        if shared is None:
            raise MetadataError("no trusted hub metadata is available yet")
        metadata = self._verified(shared["xml"], shared["fetched_at"])
        if metadata.valid_until is not None and metadata.valid_until <= self._now_utc():
            raise MetadataError("the last good hub metadata has passed its validUntil")
        return metadata

    def _own_copy(self) -> dict | None:
        """The last copy this process itself verified under its trust: the last good copy when
        the shared one is missing or no longer verifies and no fresh one could be had."""
        return None if self._parsed is None else {
            "xml": self._parsed[0], "fetched_at": self._parsed[1].fetched_at}

    def _await_believable_copy(self) -> dict | None:
        """No copy this process can believe, and another process holds the claim: it is fetching
        one now (at cold start, or after a trust change, every sign-in arrives here at once).
        Wait for its fetch, not fail the sign-in."""
        deadline = time.monotonic() + sum(METADATA_TIMEOUT) + 1
        shared = self._shared(fresh=True)
        while (shared is None or not self._believable(shared)) and time.monotonic() < deadline:
            time.sleep(0.05)
            shared = self._shared(fresh=True)
        return shared

    def _stale(self, shared: dict | None) -> bool:
        return (shared is None or self.clock() - shared["fetched_at"] >= self.config.refresh_seconds
                or not self._believable(shared))

    def _release_claim(self) -> None:
        if self.state is not None:
            self.state.release_hub_metadata_refresh()

    def _claim_refresh(self) -> bool:
        if self.state is None:
            return True
        return self.state.claim_hub_metadata_refresh(self.RETRY_SECONDS)

    def _now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def status(self) -> MetadataStatus:
        """For readiness and operators: usable copy, its age and validity, last refresh error.

        It first does what a sign-in would (refresh when due, under the shared claim), so that
        readiness probes keep the metadata on schedule even when no resident is signing in.
        """
        try:
            self.current()
        except (MetadataError, StateUnavailable):
            pass  # reported below
        error, error_at = self._local_error or (None, None)
        try:
            shared = self._shared()
            if self.state is not None:
                recorded = self.state.get_hub_metadata_status() or {}
                error, error_at = recorded.get("last_error"), recorded.get("last_error_at")
        except StateUnavailable as exc:
            # A Redis outage says nothing of the metadata: report the copy this process holds
            # (what its sign-ins would use); the state store's health is a metric of its own.
            shared, error, error_at = self._own_copy(), f"shared store unavailable: {exc}", \
                self.clock()
            if shared is None:
                return MetadataStatus(False, None, None, error, error_at)
        if shared is None:
            return MetadataStatus(False, None, None, error, error_at)
        try:
            metadata = self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError as exc:
            return MetadataStatus(False, shared["fetched_at"], None, str(exc), self.clock())
        usable = metadata.valid_until is None or metadata.valid_until > self._now_utc()
        return MetadataStatus(usable, metadata.fetched_at, metadata.valid_until, error,
                              error_at)


def sp_metadata(config: BrokerConfig, valid_for: timedelta = timedelta(days=7)) -> str:
    """Our signed SP metadata: the signing key (and the next one, during a rotation), one or two
    encryption keys, the HTTP-POST assertion consumer service."""
    valid_until = (datetime.now(UTC) + valid_for).strftime("%Y-%m-%dT%H:%M:%SZ")
    saml = config.saml

    def key_descriptor(use: str, cert_pem: str) -> str:
        return (f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
                f"{strip_pem(cert_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
                "</md:KeyDescriptor>")

    signing = [saml.signing.cert_pem]
    if saml.signing_next_cert_pem:
        signing.append(saml.signing_next_cert_pem)
    keys = "".join(key_descriptor("signing", cert) for cert in signing) + "".join(
        key_descriptor("encryption", pair.cert_pem) for pair in saml.encryption)
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
