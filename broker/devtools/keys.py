"""Key material for the demo and the tests: generated on first use, never committed.

Real deployments bring their own keys; these exist so that `make demo` and the test suite run
with real signatures and encryption on a machine where nothing was set up by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import ECKey, RSAKey

from broker.sealing import DataKey

RSA_PAIRS = (
    "broker-saml-signing",
    "broker-saml-encryption",
    "hub-signing",
    "federation-metadata-signing",
)

DATA_KEY_FILE = "broker-data-key.jwk.json"  # seals personal data in Redis (broker/sealing.py)


def self_signed_pair(common_name: str, days: int = 3650) -> tuple[str, str]:
    """An RSA-2048 key and a self-signed certificate, as PEM strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def oidc_signing_jwk() -> dict:
    key = ECKey.generate_key("P-256", auto_kid=True, private=True)
    data = key.as_dict(private=True)
    data.update({"use": "sig", "alg": "ES256"})
    return data


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
    """Creates whatever key files are missing in `directory` and returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in RSA_PAIRS:
        key_file, cert_file = directory / f"{name}.key", directory / f"{name}.crt"
        if not (key_file.exists() and cert_file.exists()):
            key_pem, cert_pem = self_signed_pair(f"demo {name}")
            key_file.write_text(key_pem)
            key_file.chmod(0o600)
            cert_file.write_text(cert_pem)
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
