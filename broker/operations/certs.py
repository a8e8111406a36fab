"""Reading certificates and keys for operators: expiry, fingerprints, and whether a key fits a cert.

All parsing is done by `cryptography`; nothing here signs or encrypts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    not_before: datetime
    not_after: datetime
    sha256: str  # hex fingerprint of the DER certificate, as operators compare them

    def days_left(self, now: datetime | None = None) -> int:
        return (self.not_after - (now or datetime.now(UTC))).days

    def describe(self, now: datetime | None = None) -> str:
        return (f"expires {self.not_after:%Y-%m-%d} ({self.days_left(now)} days), "
                f"SHA-256 {self.sha256[:16]}…")


def certificate_info(pem: str) -> CertificateInfo:
    """Parses one PEM certificate; ValueError when it is not one."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
    )


def der_certificate_info(base64_der: str) -> CertificateInfo:
    """A certificate as it appears in SAML metadata (base64 DER, possibly with PEM armour)."""
    body = "".join(line for line in base64_der.strip().splitlines() if "-----" not in line)
    body = "".join(body.split())
    pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(
        body[i:i + 64] for i in range(0, len(body), 64)) + "\n-----END CERTIFICATE-----\n"
    return certificate_info(pem)


def key_matches_certificate(key_pem: str, cert_pem: str) -> bool:
    """True when the private key is the one whose public half the certificate carries."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt)


def expiry_problem(info: CertificateInfo, now: datetime | None = None
                   ) -> tuple[str, str] | None:
    """("error"|"warning", text) when the certificate is expired, not yet valid or expires soon."""
    now = now or datetime.now(UTC)
    if info.not_after <= now:
        return "error", f"certificate expired on {info.not_after:%Y-%m-%d}"
    if info.not_before > now:
        return "error", f"certificate is not valid until {info.not_before:%Y-%m-%d}"
    days = info.days_left(now)
    if days < EXPIRY_WARNING_DAYS:
        return "warning", f"certificate expires in {days} days, on {info.not_after:%Y-%m-%d}"
    return None
