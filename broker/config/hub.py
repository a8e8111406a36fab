"""GOV.UK Verify's sections: `saml` (the broker as a service provider) and `hub` (its metadata
and truststores).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.config.model import HubConfig, SamlConfig
from broker.config.reader import Reader


def read_saml(file: Reader, raw: Mapping[str, Any]) -> SamlConfig:
    encryption = file.get(raw, "encryption", "saml.", list)
    if not 1 <= len(encryption) <= 2:
        raise file.fail("saml.encryption", "must list one or two key pairs")
    skew = file.get(raw, "clock_skew_seconds", "saml.", int, default=30)
    if not 0 <= skew <= 300:
        raise file.fail("saml.clock_skew_seconds", "must be between 0 and 300")
    if raw.get("signing_next"):  # its private key is optional here; check-config matches it
        file.get(raw["signing_next"], "key", "saml.signing_next.", default=None)
    return SamlConfig(
        entity_id=file.get(raw, "entity_id", "saml."),
        signing=file.key_pair(file.get(raw, "signing", "saml.", dict), "saml.signing."),
        encryption=tuple(file.key_pair(item, f"saml.encryption[{i}].")
                         for i, item in enumerate(encryption)),
        clock_skew_seconds=skew,
        signing_next_cert_pem=file.pem(raw["signing_next"], "cert", "saml.signing_next.",
                                       "CERTIFICATE") if raw.get("signing_next") else None,
    )


def read_hub(file: Reader, raw: Mapping[str, Any]) -> HubConfig:
    metadata_url = file.url(raw, "metadata_url", "hub.", default=None)
    metadata_file = file.path(raw, "metadata_file", "hub.") if raw.get("metadata_file") else None
    if (metadata_url is None) == (metadata_file is None):
        raise file.fail("hub.metadata_url", "set exactly one of metadata_url and metadata_file")
    if "trust_anchor" in raw:
        raise file.fail("hub.trust_anchor", "replaced by hub.truststores (metadata, hub, idp: "
                        "CA certificate bundles); see docs/operations.md")
    truststores = file.get(raw, "truststores", "hub.", dict)
    max_validity_days = file.get(raw, "metadata_max_validity_days", "hub.", int, default=14)
    if not 1 <= max_validity_days <= 366:
        raise file.fail("hub.metadata_max_validity_days", "must be between 1 and 366 days")
    return HubConfig(
        metadata_url=metadata_url, metadata_file=metadata_file,
        sso_url=file.url(raw, "sso_url", "hub."),
        metadata_truststore_pem=read_truststore(file, truststores, "metadata"),
        hub_truststore_pem=read_truststore(file, truststores, "hub"),
        idp_truststore_pem=read_truststore(file, truststores, "idp"),
        entity_id=file.get(raw, "entity_id", "hub.", default=None),
        refresh_seconds=file.get(raw, "refresh_seconds", "hub.", int, default=3600),
        local_copy_seconds=file.get(raw, "local_copy_seconds", "hub.", int, default=10),
        metadata_max_validity_days=max_validity_days,
    )


def read_truststore(file: Reader, raw: Mapping[str, Any], key: str) -> str:
    from cryptography import x509

    pem = file.pem(raw, key, "hub.truststores.", "CERTIFICATE")
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise file.fail(f"hub.truststores.{key}", f"not a PEM certificate bundle: {exc}") \
            from None
    return pem
