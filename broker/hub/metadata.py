"""Trust in the federation (its signed metadata, by certificate chain) and our own SP metadata.

GOV.UK Verify's federation metadata is one signed md:EntitiesDescriptor: the hub (an
SPSSODescriptor only, its SSO URL being configuration) and one entity per identity provider. It
is only believed when its one root signature verifies with an end-entity certificate issued by
the metadata truststore's intermediate, its `validUntil` has not passed and is no further ahead
than `hub.metadata_max_validity_days`; the hub's and the identity providers' certificates must be
issued by their own truststores' intermediates. `validUntil` and `cacheDuration` are honoured on
every element that carries them (the EntitiesDescriptor, each EntityDescriptor, each role
descriptor): an expired entity or descriptor is not trusted, the shortest `cacheDuration` is the
longest time between refreshes. Expiry, of an entity or of a certificate, is checked again at
every use, not only when the document is read. A failed refresh keeps the last good copy.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import isodate
import requests
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.config import BrokerConfig, HubConfig
from broker.hub.saml_xml import UnacceptableXml, parse_xml
from broker.hub.trust import FederationTrust, TrustedCertificate, Truststore, UntrustedCertificate
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
# However short a cacheDuration, refreshes are no closer than verify-saml-libs' minRefreshDelay.
MIN_REFRESH_SECONDS = 60


class MetadataError(Exception):
    """The hub's metadata could not be trusted or read; the message says why."""


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None


def _pems_at(certs: tuple[TrustedCertificate, ...], now: datetime) -> tuple[str, ...]:
    return tuple(cert.pem for cert in certs if cert.valid_at(now))


@dataclass(frozen=True)
class IdentityProvider:
    """An identity provider of the federation: the assertions it signs verify with these, while
    its entity (and descriptor) is within its `validUntil`."""

    entity_id: str
    signing_certs: tuple[TrustedCertificate, ...]
    valid_until: datetime | None = None

    def signing_certs_at(self, now: datetime) -> tuple[str, ...]:
        """The PEM certificates that may verify its signatures at `now` (none once expired)."""
        if self.valid_until is not None and self.valid_until <= now:
            return ()
        return _pems_at(self.signing_certs, now)


@dataclass(frozen=True)
class HubMetadata:
    """What the broker believes about the federation, every value from the signed document
    (the SSO URL excepted: it is configuration).

    `valid_until` is when the whole stops being usable: the earliest of the document's, the hub
    entity's and its descriptor's `validUntil`, the metadata signing chain's expiry and the last
    hub signing certificate's. `cache_duration` is the shortest `cacheDuration` it carries."""

    entity_id: str
    sso_url: str
    signing_certs: tuple[TrustedCertificate, ...]
    valid_until: datetime | None
    fetched_at: float
    identity_providers: tuple[IdentityProvider, ...] = ()
    cache_duration: timedelta | None = None

    def expired_at(self, now: datetime) -> bool:
        return self.valid_until is not None and self.valid_until <= now

    @property
    def expired(self) -> bool:
        return self.expired_at(datetime.now(UTC))

    def signing_certs_at(self, now: datetime) -> tuple[str, ...]:
        """The hub's PEM certificates that may verify a Response at `now`."""
        return () if self.expired_at(now) else _pems_at(self.signing_certs, now)

    def identity_provider(self, entity_id: str, now: datetime | None = None
                          ) -> IdentityProvider | None:
        """The identity provider, unless unknown or its entity has expired by `now`."""
        now = now or datetime.now(UTC)
        found = next((idp for idp in self.identity_providers if idp.entity_id == entity_id),
                     None)
        if found is None or (found.valid_until is not None and found.valid_until <= now):
            return None
        return found


def strip_pem(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


@functools.lru_cache(maxsize=4)
def federation_trust(metadata_pem: str, hub_pem: str, idp_pem: str) -> FederationTrust:
    return FederationTrust(Truststore.from_pem("metadata", metadata_pem),
                           Truststore.from_pem("hub", hub_pem),
                           Truststore.from_pem("idp", idp_pem))


def trust_of(config: HubConfig) -> FederationTrust:
    try:
        return federation_trust(config.metadata_truststore_pem, config.hub_truststore_pem,
                                config.idp_truststore_pem)
    except ValueError as exc:
        raise MetadataError(f"hub.truststores: {exc}") from None


def _instant(value: str, what: str) -> datetime:
    """An xs:dateTime (SAML core 1.3.3: UTC); anything else makes the document invalid."""
    try:
        if "T" not in value:
            raise ValueError("a date and a time")
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise MetadataError(f"{what} {value[:40]!r} is not a SAML time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _duration(value: str, what: str, now: datetime) -> timedelta:
    """An xs:duration, as the length it has from `now` (years and months vary)."""
    try:
        length = (now + isodate.parse_duration(value)) - now
    except (ValueError, OverflowError, TypeError):  # isodate.ISO8601Error is a ValueError
        raise MetadataError(f"{what} {value[:40]!r} is not a duration") from None
    if length <= timedelta(0):
        raise MetadataError(f"{what} {value[:40]!r} is not a positive duration")
    return length


@dataclass(frozen=True)
class _Validity:
    """`validUntil` and `cacheDuration` along one path from the root, each the strictest."""

    valid_until: datetime | None = None
    cache_duration: timedelta | None = None

    def within(self, element: etree._Element, now: datetime) -> _Validity:
        what = etree.QName(element).localname
        valid_until, cache = self.valid_until, self.cache_duration
        if element.get("validUntil") is not None:
            valid_until = _earliest(valid_until,
                                    _instant(element.get("validUntil"), f"{what} validUntil"))
        if element.get("cacheDuration") is not None:
            length = _duration(element.get("cacheDuration"), f"{what} cacheDuration", now)
            cache = length if cache is None else min(cache, length)
        return _Validity(valid_until, cache)

    def expired(self, now: datetime) -> bool:
        return self.valid_until is not None and self.valid_until <= now


def parse_hub_metadata(xml: bytes, config: HubConfig, now: datetime | None = None
                       ) -> HubMetadata:
    """Verifies the federation metadata's one root signature by a certificate issued by the
    metadata truststore's intermediate, then reads the hub and the identity providers from that
    element."""
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
        signer = trust.metadata.verify(presented, now)
        verify_enveloped(root, (signer.pem,), "metadata", allow_empty_uri=True)
    except (SignatureRefused, UntrustedCertificate) as exc:
        raise MetadataError(str(exc)) from None
    # From here on every value is read from `root`, the element the signature covers.
    if not root.get("validUntil"):
        # Without it, a copy captured once would stay believable for ever, even after the
        # federation has rotated away from a compromised key.
        raise MetadataError("metadata has no validUntil")
    document = _Validity().within(root, now)
    if document.expired(now):
        raise MetadataError(f"metadata validUntil {root.get('validUntil')} has passed")
    longest = timedelta(days=config.metadata_max_validity_days)
    if document.valid_until - now > longest:
        # As Shibboleth's RequiredValidUntilFilter (maxValidityInterval): a document signed to
        # last far longer than the federation publishes would outlive any key rotation.
        raise MetadataError(
            f"metadata validUntil {root.get('validUntil')} is more than "
            f"{config.metadata_max_validity_days} days ahead (hub.metadata_max_validity_days)")
    for element in root.iter(f"{{{MD}}}*"):
        _Validity().within(element, now)  # a malformed one anywhere makes the document invalid
    entities = root.findall("md:EntityDescriptor", NS)
    hub = _hub_entity(entities, config.entity_id)
    hub_descriptor = hub.find("md:SPSSODescriptor", NS)
    hub_validity = document.within(hub, now).within(hub_descriptor, now)
    if hub_validity.expired(now):
        raise MetadataError(f"the hub entity {hub.get('entityID')} has passed its validUntil")
    hub_certs = _trusted_signing_certs(hub_descriptor, trust.hub, now, hub.get("entityID"))
    if not hub_certs:
        raise MetadataError("metadata has no signing certificate for the hub that chains to "
                            "the hub truststore (hub.truststores.hub)")
    cache_durations = [hub_validity.cache_duration]
    providers = []
    for entity in entities:
        descriptor = entity.find("md:IDPSSODescriptor", NS)
        if descriptor is None:
            continue
        provider_validity = document.within(entity, now).within(descriptor, now)
        if provider_validity.expired(now):
            log.warning("hub metadata: identity provider %s is left out: past its validUntil",
                        entity.get("entityID"))
            continue
        certs = _trusted_signing_certs(descriptor, trust.idp, now, entity.get("entityID"))
        if certs:
            providers.append(IdentityProvider(entity.get("entityID"), certs,
                                              provider_validity.valid_until))
            cache_durations.append(provider_validity.cache_duration)
    present = [d for d in cache_durations if d is not None]
    return HubMetadata(
        entity_id=hub.get("entityID"), sso_url=config.sso_url, signing_certs=hub_certs,
        valid_until=_earliest(hub_validity.valid_until, signer.not_after,
                              max(cert.not_after for cert in hub_certs)),
        fetched_at=time.time(), identity_providers=tuple(providers),
        cache_duration=min(present) if present else None)


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
                           entity_id: str | None) -> tuple[TrustedCertificate, ...]:
    """The descriptor's signing certificates issued by `truststore`'s intermediate; the others
    are left out (and logged), as OpenSAML's chain-validating metadata filter leaves them out."""
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
            ttl = (max(int(metadata.valid_until.timestamp() - now), 1) if metadata.valid_until
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
        if metadata.expired_at(self._now_utc()):
            raise MetadataError("the last good hub metadata has passed its validUntil (or its "
                                "hub or metadata signing certificates have expired)")
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
        if shared is None:
            return True
        try:
            metadata = self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError:
            return True
        return self.clock() - shared["fetched_at"] >= self.refresh_seconds(metadata)

    def refresh_seconds(self, metadata: HubMetadata) -> float:
        """`hub.refresh_seconds`, or the metadata's shortest cacheDuration if that is shorter:
        the longest time a copy is used before it is fetched again."""
        interval = float(self.config.refresh_seconds)
        if metadata.cache_duration is not None:
            interval = min(interval, metadata.cache_duration.total_seconds())
        return max(interval, MIN_REFRESH_SECONDS)

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
            return MetadataStatus(False, None, None, f"shared store unavailable: {exc}",
                                  self.clock())
        if shared is None:
            return MetadataStatus(False, None, None, error, error_at)
        try:
            metadata = self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError as exc:
            return MetadataStatus(False, shared["fetched_at"], None, str(exc), self.clock())
        usable = not metadata.expired_at(self._now_utc())
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
