"""The federation's metadata, read: who the hub and the identity providers are, and which of
their certificates are trusted, from GOV.UK Verify's signed md:EntitiesDescriptor.

It is only believed when its one root signature verifies with an end-entity certificate issued by
the metadata truststore's intermediate, its `validUntil` has not passed and is no further ahead
than `hub.metadata_max_validity_days`; the hub's and the identity providers' certificates must be
issued by their own truststores' intermediates (broker/hub/trust.py). `validUntil` and
`cacheDuration` are honoured on every element that carries them (the EntitiesDescriptor, each
EntityDescriptor, each role descriptor): an expired entity or descriptor is not trusted, the
shortest `cacheDuration` is the longest time between refreshes. Expiry, of an entity or of a
certificate, is checked again at every use, not only when the document is read. The hub's SSO
URL is configuration: its entity has none.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import isodate
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.config import HubConfig
from broker.hub.saml_xml import UnacceptableXml, parse_xml
from broker.hub.trust import FederationTrust, TrustedCertificate, Truststore, UntrustedCertificate
from broker.hub.xml_signatures import (
    SignatureRefused,
    enveloped_signature,
    presented_certificate,
    verify_enveloped,
)

log = logging.getLogger(__name__)

MAX_METADATA_BYTES = 1_000_000
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"md": MD, "ds": C.NS_DS}


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
