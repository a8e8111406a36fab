"""Operator commands run against a private copy of the keys, a signed hub metadata file and the
real Redis (and PostgreSQL where the link store matters)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from broker.devtools.stub_hub import saml
from tests.conftest import Ports, write_config

PORTS = Ports(18100, 18101, 18102)
HUB_ENTITY_ID = "https://hub.example.test/"
HUB_SSO_URL = f"{PORTS.url('hub')}/saml/sso"  # configuration (write_config), not metadata
ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "broker.cli", *args], capture_output=True,
                          text=True, timeout=60, env=environ, cwd=ROOT)


def certificate(days_valid_from: int = -1, days_valid_to: int = 365,
                key: rsa.RSAPrivateKey | None = None) -> tuple[str, str]:
    """An RSA key and self-signed certificate valid between the two offsets from today."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operators test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days_valid_from))
            .not_valid_after(now + dt.timedelta(days=days_valid_to))
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode(),
            cert.public_bytes(serialization.Encoding.PEM).decode())


def signed_hub_metadata(keys: Path, valid_for: dt.timedelta = dt.timedelta(days=2),
                        signer: str = "federation-metadata-signing") -> str:
    """The federation's metadata, signed by `signer` (the hub's own key is not the federation's:
    its certificate does not chain to the metadata truststore)."""
    read = lambda name: (keys / name).read_text()  # noqa: E731
    federation = saml.Federation(
        metadata_key_pem=read(f"{signer}.key"), metadata_cert_pem=read(f"{signer}.crt"),
        hub=saml.HubSigner(HUB_ENTITY_ID, read("hub-signing.key"), read("hub-signing.crt")),
        hub_other_signing_cert_pem=read("hub-signing-2.crt"),
        hub_encryption_cert_pem=read("hub-encryption.crt"),
        idps=(saml.HubSigner("https://idp.example.test/", read("idp-signing.key"),
                             read("idp-signing.crt")),))
    return saml.federation_metadata(federation, valid_until=dt.datetime.now(dt.UTC) + valid_for)


@pytest.fixture
def keys(tmp_path, keys_dir) -> Path:
    """A private copy of the test keys: key commands write beside them."""
    return Path(shutil.copytree(keys_dir, tmp_path / "keys"))


@pytest.fixture
def prefix(redis_client):
    prefix = f"test-ops-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


@pytest.fixture
def operator_config(tmp_path, keys, redis_url, prefix):
    """`operator_config(**overrides)`: a valid file whose hub metadata is a signed local file."""

    def build(**overrides) -> Path:
        metadata = tmp_path / "hub-metadata.xml"
        if not metadata.exists():
            metadata.write_text(signed_hub_metadata(keys))
        values = {"hub.metadata_url": None, "hub.metadata_file": str(metadata),
                  "database": {"url": f"sqlite:///{tmp_path / 'links.sqlite3'}"}}
        values.update(overrides)
        return write_config(tmp_path, keys, PORTS, redis_url, prefix, **values)

    return build
