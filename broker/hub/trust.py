"""Trust in the federation by certificate chain, as GOV.UK Verify's federation is built.

The federation publishes its metadata signed by a metadata signing key whose certificate is
issued by a metadata CA; the hub's and the identity providers' certificates in that metadata are
issued by their own CAs, all under one shared root. A relying party configures three truststores
(each the root and the intermediate for that purpose, as Verify published them: root CA
pathLen 1, intermediates pathLen 0) and believes a certificate only when it chains to the right
one. Pinning a leaf instead breaks at every rotation of the key it pins.

Because the root is shared, "chains to the truststore" alone would let one purpose's certificate
stand in for another's: the hub CA's own certificate, or any certificate the root issued
directly, chains to the root in every store. So a signer must be an end-entity certificate
(`basicConstraints CA:TRUE` or `keyCertSign` never signs a message) issued by an intermediate of
*this* truststore, as verify-saml-libs requires of the metadata signer (its PKIX chain depth 0:
issued by a CA in the metadata truststore) and its CertificateChainValidationFilter of the hub's
and the identity providers' certificates.

Chains are built and checked by `cryptography`'s X.509 verification (RFC 5280 path building,
validity periods, CA constraints on every issuer); only certificates from the truststore are
ever used as issuers, never ones a message brings along. A verified certificate keeps the
window in which its whole chain is valid, so that it is checked again at every use.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)


class UntrustedCertificate(Exception):
    """The certificate does not chain to the truststore it must chain to."""


@dataclass(frozen=True)
class TrustedCertificate:
    """A signing certificate that chained to its truststore, and when that chain holds (the
    latest notBefore and the earliest notAfter along it)."""

    pem: str
    not_before: datetime
    not_after: datetime

    def valid_at(self, now: datetime) -> bool:
        return self.not_before <= now <= self.not_after


def _not_a_ca(_policy, _certificate, constraints: x509.BasicConstraints | None) -> None:
    if constraints is not None and constraints.ca:
        raise ValueError("a CA certificate (basicConstraints CA:TRUE) is never a signer")


def _signs(_policy, _certificate, usage: x509.KeyUsage | None) -> None:
    if usage is not None and usage.key_cert_sign:
        raise ValueError("a certificate for issuing certificates (keyCertSign) is never a signer")
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise ValueError("the certificate's keyUsage does not allow signatures")


SIGNER_POLICY = (ExtensionPolicy.permit_all()
                 .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _not_a_ca)
                 .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _signs))


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


@dataclass(frozen=True)
class Truststore:
    """The CA certificates one kind of federation certificate must chain to: roots (self-issued)
    and this purpose's intermediates, the only certificates that may issue its signers."""

    name: str
    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, name: str, pem: str) -> Truststore:
        certificates = tuple(x509.load_pem_x509_certificates(pem.encode()))
        if not certificates:
            raise ValueError(f"the {name} truststore holds no certificate")
        store = cls(name, certificates)
        if not store.intermediates:
            # With only the shared root, every purpose's certificates would chain here.
            raise ValueError(f"the {name} truststore holds no intermediate CA certificate; it "
                             f"must hold the root and the {name} intermediate")
        return store

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for c in self.certificates if c.issuer == c.subject)

    @property
    def intermediates(self) -> tuple[x509.Certificate, ...]:
        return tuple(c for c in self.certificates if c.issuer != c.subject and _is_ca(c))

    def verify(self, certificate_b64: str, now: datetime | None = None) -> TrustedCertificate:
        """The certificate (base64 DER, as in ds:X509Certificate), once it is an end-entity
        certificate issued by one of this truststore's intermediates, valid at `now`."""
        try:
            der = base64.b64decode("".join(certificate_b64.split()), validate=True)
            certificate = x509.load_der_x509_certificate(der)
        except (binascii.Error, ValueError):
            raise UntrustedCertificate("not a readable X.509 certificate") from None
        subject = certificate.subject.rfc4514_string()
        intermediates = self.intermediates
        # Anchored at the roots when the store has them, so the intermediate's own issuance,
        # validity and path length are checked too; the intermediates are the only candidates.
        anchors = self.roots or intermediates
        verifier = (PolicyBuilder().store(Store(list(anchors)))
                    .time(now or datetime.now(UTC))
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=SIGNER_POLICY)
                    .build_client_verifier())
        try:
            chain = verifier.verify(certificate, list(intermediates)).chain
        except VerificationError as exc:
            raise UntrustedCertificate(
                f"certificate {subject} does not chain to the {self.name} truststore "
                f"(hub.truststores.{self.name}): {exc}") from None
        if len(chain) < 2 or chain[1] not in intermediates:
            raise UntrustedCertificate(
                f"certificate {subject} does not chain to the {self.name} truststore "
                f"(hub.truststores.{self.name}): not issued by its intermediate CA")
        return TrustedCertificate(
            certificate.public_bytes(serialization.Encoding.PEM).decode(),
            not_before=max(c.not_valid_before_utc for c in chain),
            not_after=min(c.not_valid_after_utc for c in chain))


@dataclass(frozen=True)
class FederationTrust:
    """The three truststores a relying party in the federation configures."""

    metadata: Truststore
    hub: Truststore
    idp: Truststore
