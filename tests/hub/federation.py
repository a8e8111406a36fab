"""The stub federation for metadata tests: its keys, a broker's view of its trust, its metadata."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from broker.config import HubConfig
from broker.devtools.keys import issued_pair, load_issuer
from broker.devtools.stub_hub import saml

METADATA_URL = "https://hub.example.test/SAML2/metadata/federation"
HUB_ENTITY_ID = "https://hub.example.test/"
HUB_SSO_URL = "https://hub.example.test/SAML2/SSO"


def federation(keys_dir: Path, metadata_key: str | None = None,
               metadata_cert: str | None = None) -> saml.Federation:
    read = lambda name: (keys_dir / name).read_text()  # noqa: E731
    return saml.Federation(
        metadata_key_pem=metadata_key or read("federation-metadata-signing.key"),
        metadata_cert_pem=metadata_cert or read("federation-metadata-signing.crt"),
        hub=saml.HubSigner(HUB_ENTITY_ID, read("hub-signing.key"), read("hub-signing.crt")),
        hub_other_signing_cert_pem=read("hub-signing-2.crt"),
        hub_encryption_cert_pem=read("hub-encryption.crt"),
        idps=(saml.HubSigner("https://idp-one.example.test/", read("idp-signing.key"),
                             read("idp-signing.crt")),
              saml.HubSigner("https://idp-two.example.test/", read("idp-2-signing.key"),
                             read("idp-2-signing.crt"))))


def hub_config(keys_dir: Path, **changes) -> HubConfig:
    read = lambda name: (keys_dir / name).read_text()  # noqa: E731
    config = {"metadata_url": METADATA_URL, "metadata_file": None, "sso_url": HUB_SSO_URL,
              "metadata_truststore_pem": read("metadata-truststore.pem"),
              "hub_truststore_pem": read("hub-truststore.pem"),
              "idp_truststore_pem": read("idp-truststore.pem"), "refresh_seconds": 3600}
    config.update(changes)
    return HubConfig(**config)


def metadata_xml(keys_dir: Path, valid_for: timedelta = timedelta(days=2),
                 key: str | None = None, cert: str | None = None, **extras) -> str:
    return saml.federation_metadata(federation(keys_dir, key, cert),
                                    valid_until=datetime.now(UTC) + valid_for, **extras)


def issue(keys_dir: Path, ca_name: str, common_name: str) -> tuple[str, str]:
    """A new key and certificate from one of the federation's CAs (a rotation)."""
    return issued_pair(common_name, load_issuer(keys_dir, ca_name))


class Clock:
    """A clock that tests move by hand (`clock.now += ...`)."""

    def __init__(self):
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def root_issuer(keys_dir: Path):
    """The federation's root CA, to issue what the federation never would: a certificate
    straight from the root."""
    return load_issuer(keys_dir, "demo-root-ca")


def ca_as_signer(keys_dir: Path, ca_name: str, entity_id: str) -> saml.HubSigner:
    """An intermediate CA's own key and certificate, used as if they were a signing pair."""
    return saml.HubSigner(entity_id, (keys_dir / f"{ca_name}.key").read_text(),
                          (keys_dir / f"{ca_name}.crt").read_text())


def resigned(keys_dir: Path, xml: str, edit) -> str:
    """The federation's metadata changed by `edit(root element)` and signed again with the
    metadata signing key: what the federation itself published."""
    from lxml import etree

    root = etree.fromstring(xml.encode())
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    edit(root)
    return saml.sign(etree.tostring(root), (keys_dir / "federation-metadata-signing.key").read_text(),
                     (keys_dir / "federation-metadata-signing.crt").read_text())
