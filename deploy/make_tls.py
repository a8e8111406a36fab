"""Makes the demo stack's TLS material at start-up: a private CA and one server certificate.

Run by the one-shot `tls` service in docker-compose.yml (never committed, never reused outside the
stack): `python make_tls.py DIRECTORY NAME...`. It writes ca.crt (for clients to trust, e.g.
REQUESTS_CA_BUNDLE), server.crt (server then CA) and server.key, and leaves existing files alone
while the server certificate covers the names and has more than 30 days left, so restarts keep
the certificate browsers were told to trust. Uses `cryptography` only.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
RENEW_WITHIN_DAYS = 30


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _still_good(directory: Path, names: list[str]) -> bool:
    cert_file = directory / "server.crt"
    if not (cert_file.exists() and (directory / "server.key").exists()
            and (directory / "ca.crt").exists()):
        return False
    cert = x509.load_pem_x509_certificates(cert_file.read_bytes())[0]
    covered = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                  .value.get_values_for_type(x509.DNSName))
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return set(names) <= covered and left > dt.timedelta(days=RENEW_WITHIN_DAYS)


def make_tls(directory: Path, names: list[str]) -> bool:
    """True when new material was written, False when the existing files are still good."""
    directory.mkdir(parents=True, exist_ok=True)
    if _still_good(directory, names):
        return False
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder().subject_name(_name("broker demo stack CA"))
        .issuer_name(_name("broker demo stack CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    server_cert = (
        x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(ca_cert.subject)
        .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_file = directory / "server.key"
    key_file.unlink(missing_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(_pem_key(server_key))
    (directory / "server.crt").write_bytes(server_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    return True  # the CA's private key is never written: nothing else is ever signed by it


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: make_tls.py DIRECTORY NAME...", file=sys.stderr)
        return 2
    directory, names = Path(argv[0]), argv[1:]
    made = make_tls(directory, names)
    print(f"tls: {'new certificate for' if made else 'keeping the certificate for'} "
          f"{', '.join(names)} in {directory} (trust {directory / 'ca.crt'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
