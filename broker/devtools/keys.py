"""Key material for the demo and the tests: generated on first use, never committed.

Real deployments bring their own keys; these exist so that `make demo` and the test suite run
with real signatures and encryption on a machine where nothing was set up by hand.

The federation's keys come as GOV.UK Verify's do: a root CA, one intermediate CA per purpose
(metadata, hub, identity providers) and leaf certificates under them, so the broker's trust is
by certificate chain exactly as in production. Each truststore file holds the root and its
intermediate.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, RSAKey

from broker.sealing import DataKey

# The broker's own pairs: self-signed (the hub learns them through the federation's certificate
# service, not through a chain the broker checks).
BROKER_PAIRS = ("broker-saml-signing", "broker-saml-encryption")
ROOT_CA = "demo-root-ca"
# intermediate CA -> (truststore file, leaf pairs it issues)
CHAINS = {
    "demo-metadata-ca": ("metadata-truststore.pem", ("federation-metadata-signing",)),
    "demo-hub-ca": ("hub-truststore.pem", ("hub-signing", "hub-signing-2", "hub-encryption")),
    "demo-idp-ca": ("idp-truststore.pem", ("idp-signing", "idp-2-signing")),
}
# What the stub hub signs and encrypts with: the federation's leaf pairs.
STUB_HUB_PAIRS = tuple(leaf for _truststore, leaves in CHAINS.values() for leaf in leaves)
DATA_KEY_FILE = "broker-data-key.jwk.json"  # seals personal data in Redis (broker/sealing.py)


@dataclass(frozen=True)
class Issuer:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _certificate(common_name: str, key: rsa.RSAPrivateKey, issuer: Issuer | None, ca: bool,
                 days: int) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = _name(common_name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    if ca:
        builder = (builder
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(
                       digital_signature=False, content_commitment=False,
                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                       key_cert_sign=True, crl_sign=True, encipher_only=False,
                       decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False))
        if issuer:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
                critical=False)
    elif issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False)
    signer = issuer.key if issuer else key
    return builder.sign(signer, hashes.SHA256())


def self_signed_pair(common_name: str, days: int = 3650) -> tuple[str, str]:
    """An RSA-2048 key and a self-signed certificate, as PEM strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pem_key(key), _pem_cert(_certificate(common_name, key, None, False, days))


def ca_pair(common_name: str, issuer: Issuer | None = None, days: int = 3650) -> Issuer:
    """A CA key and certificate: self-signed (a root) or issued by `issuer` (an intermediate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Issuer(key, _certificate(common_name, key, issuer, True, days))


def issued_pair(common_name: str, issuer: Issuer, days: int = 3650) -> tuple[str, str]:
    """An RSA-2048 key and a leaf certificate issued by `issuer`, as PEM strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _pem_key(key), _pem_cert(_certificate(common_name, key, issuer, False, days))


def load_issuer(directory: Path, ca_name: str) -> Issuer:
    """A demo intermediate CA from its files, to issue another certificate under it."""
    key = serialization.load_pem_private_key((directory / f"{ca_name}.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((directory / f"{ca_name}.crt").read_bytes())
    return Issuer(key, cert)


def oidc_signing_jwk() -> dict:
    key = ECKey.generate_key("P-256", auto_kid=True, private=True)
    data = key.as_dict(private=True)
    data.update({"use": "sig", "alg": "ES256"})
    return data


def _write_pair(directory: Path, name: str, key_pem: str, cert_pem: str) -> None:
    key_file = directory / f"{name}.key"
    key_file.write_text(key_pem)
    key_file.chmod(0o600)
    (directory / f"{name}.crt").write_text(cert_pem)


def _federation_files(directory: Path) -> list[Path]:
    files = [directory / f"{ROOT_CA}.crt", directory / f"{ROOT_CA}.key"]
    for ca_name, (truststore, leaves) in CHAINS.items():
        files += [directory / truststore, directory / f"{ca_name}.key",
                  directory / f"{ca_name}.crt"]
        files += [directory / f"{leaf}.{ext}" for leaf in leaves for ext in ("key", "crt")]
    return files


def one_login_client_jwk() -> dict:
    """The broker's private_key_jwt key for (the stub) One Login: RSA, as One Login requires."""
    key = RSAKey.generate_key(2048, auto_kid=True, private=True)
    return {**key.as_dict(private=True), "use": "sig"}  # no `alg`: RS256 or PS256


def oidc_rsa_signing_jwk() -> dict:
    """RS256 for the clients that ask for it: the algorithm certified clients expect by default."""
    key = RSAKey.generate_key(2048, auto_kid=True, private=True)
    data = key.as_dict(private=True)
    data.update({"use": "sig", "alg": "RS256"})
    return data


def ensure_demo_keys(directory: Path) -> Path:
    """Creates whatever key files are missing in `directory` and returns it.

    The federation's chain is made as one piece: when any part is missing (or the folder holds
    an older demo's self-signed hub keys), the whole chain is generated again.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name in BROKER_PAIRS:
        if not ((directory / f"{name}.key").exists() and (directory / f"{name}.crt").exists()):
            _write_pair(directory, name, *self_signed_pair(f"demo {name}"))
    if not all(path.exists() for path in _federation_files(directory)):
        root = ca_pair("Demo federation root CA")
        # Kept so that tests can issue what the federation never would: a certificate straight
        # from the root, which no truststore may accept as a signer.
        _write_pair(directory, ROOT_CA, _pem_key(root.key), _pem_cert(root.cert))
        for ca_name, (truststore, leaves) in CHAINS.items():
            intermediate = ca_pair(f"Demo {ca_name.removeprefix('demo-')}", root)
            # Kept so that tests and demo operators can issue the next certificate (a rotation).
            _write_pair(directory, ca_name, _pem_key(intermediate.key),
                        _pem_cert(intermediate.cert))
            (directory / truststore).write_text(_pem_cert(root.cert) + _pem_cert(intermediate.cert))
            for leaf in leaves:
                _write_pair(directory, leaf, *issued_pair(f"demo {leaf}", intermediate))
    for name, make in (("broker-oidc-signing.jwk.json", oidc_signing_jwk),
                       ("broker-onelogin-client.jwk.json", one_login_client_jwk),
                       ("broker-oidc-signing-rsa.jwk.json", oidc_rsa_signing_jwk)):
        jwk_file = directory / name
        if not jwk_file.exists():
            jwk_file.write_text(json.dumps(make(), indent=2))
            jwk_file.chmod(0o600)
    data_key_file = directory / DATA_KEY_FILE
    if not data_key_file.exists():
        data_key_file.write_text(json.dumps(DataKey.generate("demo-data-key").to_jwk(), indent=2))
        data_key_file.chmod(0o600)
    return directory
