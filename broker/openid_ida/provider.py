"""What the OpenID provider publishes: its discovery document (OpenID Connect Discovery 1.0) and
the JWKS that signs its ID tokens.

Kept, refreshed and fetched again for a rotated key as every OpenID upstream's documents are
(broker.upstreams.published_documents).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import KeySet

from broker.config import OpenIdIdaConfig
from broker.upstreams.published_documents import (
    DocumentsUnavailable,
    PublishedDocuments,
    fetch_json,
    fetch_public_keys,
)

ID_TOKEN_ALGS = ("RS256", "PS256", "ES256", "EdDSA")


class ProviderUnavailable(DocumentsUnavailable):
    """The provider's documents cannot be fetched or trusted, and no good copy is left."""


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the broker uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    id_token_signing_algs: tuple[str, ...]
    document: dict[str, Any]

    @classmethod
    def from_json(cls, data: Any, configured_issuer: str) -> ProviderMetadata:
        if not isinstance(data, dict):
            raise ProviderUnavailable("the discovery document is not a JSON object")
        required = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                    "jwks_uri")
        missing = [name for name in required if not isinstance(data.get(name), str)]
        if missing:
            raise ProviderUnavailable(f"the discovery document lacks {', '.join(missing)}")
        if data["issuer"].rstrip("/") != configured_issuer.rstrip("/"):
            # Discovery 1.0 section 4.3: the issuer must be the one the document was asked of.
            raise ProviderUnavailable(f"the discovery document's issuer {data['issuer']!r} is not "
                                      f"the configured issuer")
        algs = tuple(a for a in data.get("id_token_signing_alg_values_supported") or ("RS256",)
                     if a in ID_TOKEN_ALGS)
        if not algs:
            raise ProviderUnavailable("the provider signs ID tokens with no algorithm the broker "
                                      "accepts (none is never accepted)")
        return cls(data["issuer"], data["authorization_endpoint"], data["token_endpoint"],
                   data["userinfo_endpoint"], data["jwks_uri"], algs, data)


@dataclass(frozen=True)
class PublishedTrust:
    provider: ProviderMetadata
    id_token_keys: KeySet
    fetched_at: float


class OpenIdProvider(PublishedDocuments[PublishedTrust]):
    unavailable = ProviderUnavailable

    def __init__(self, config: OpenIdIdaConfig, clock=time.time):
        super().__init__(config.refresh_seconds, clock)
        self.config = config

    def _fetch(self) -> PublishedTrust:
        timeout = self.config.timeout_seconds
        provider = ProviderMetadata.from_json(
            fetch_json(self.config.discovery_url, timeout, ProviderUnavailable), self.config.issuer)
        keys = fetch_public_keys(provider.jwks_uri, timeout, "the provider's", ProviderUnavailable)
        return PublishedTrust(provider, keys, self.clock())

    def _described(self, trust: PublishedTrust) -> str:
        return f"issuer {trust.provider.issuer}, {len(trust.id_token_keys.keys)} ID token keys"
