"""Trust in the federation by certificate chain, as GOV.UK Verify's federation is built.

The federation publishes its metadata signed by a metadata signing key whose certificate is
issued by a metadata CA; the hub's and the identity providers' certificates in that metadata are
issued by their own CAs. A relying party configures three truststores (each the root CA and the
intermediate for that purpose) and believes a certificate only when it chains to the right one.
Pinning a leaf instead breaks at every rotation of the key it pins.

Chains are built and checked by `cryptography`'s X.509 verification (RFC 5280 path building,
validity periods, CA constraints on every issuer); only certificates from the truststore are
ever used as issuers, never ones a message brings along.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)


class UntrustedCertificate(Exception):
    """The certificate does not chain to the truststore it must chain to."""


@dataclass(frozen=True)
class Truststore:
    """The CA certificates one kind of federation certificate must chain to."""

    name: str
    certificates: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem(cls, name: str, pem: str) -> Truststore:
        certificates = tuple(x509.load_pem_x509_certificates(pem.encode()))
        if not certificates:
            raise ValueError(f"the {name} truststore holds no certificate")
        return cls(name, certificates)

    def verify(self, certificate_b64: str, now: datetime | None = None) -> str:
        """The certificate (base64 DER, as in ds:X509Certificate) as PEM, once it chains here."""
        try:
            der = base64.b64decode("".join(certificate_b64.split()), validate=True)
            certificate = x509.load_der_x509_certificate(der)
        except (binascii.Error, ValueError):
            raise UntrustedCertificate("not a readable X.509 certificate") from None
        verifier = (PolicyBuilder().store(Store(list(self.certificates)))
                    .time(now or datetime.now(UTC))
                    .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                                        ee_policy=ExtensionPolicy.permit_all())
                    .build_client_verifier())
        try:
            verifier.verify(certificate, [])
        except VerificationError as exc:
            raise UntrustedCertificate(
                f"certificate {certificate.subject.rfc4514_string()} does not chain to the "
                f"{self.name} truststore (hub.truststores.{self.name}): {exc}") from None
        return certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass(frozen=True)
class FederationTrust:
    """The three truststores a relying party in the federation configures."""

    metadata: Truststore
    hub: Truststore
    idp: Truststore
