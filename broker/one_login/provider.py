"""What One Login publishes: its discovery document, the JWKS that signs ID tokens, and the
identity service's DID document that signs core identity JWTs.

Kept, refreshed and fetched again for a rotated key as every OpenID upstream's documents are
(broker.upstreams.published_documents): a redemption that caused (or missed) such a refetch goes
on with the fresh documents, so a rotation of the ID token and identity keys together costs one
fetch, not a refused sign-in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import KeySet

from broker.config import OneLoginConfig
from broker.one_login.did import DidDocument, DidDocumentError, did_web_for, parse_did_document
from broker.upstreams.published_documents import (
    DocumentsUnavailable,
    PublishedDocuments,
    fetch_json,
    fetch_public_keys,
)


class OneLoginUnavailable(DocumentsUnavailable):
    """One Login's published documents cannot be fetched or trusted, and no good copy is left."""


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of One Login's discovery document the broker uses (OpenID Connect Discovery 1.0)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    id_token_signing_algs: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Any, discovery_url: str) -> ProviderMetadata:
        if not isinstance(data, dict):
            raise OneLoginUnavailable("the discovery document is not a JSON object")
        required = ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                    "jwks_uri")
        missing = [name for name in required if not isinstance(data.get(name), str)]
        if missing:
            raise OneLoginUnavailable(f"the discovery document lacks {', '.join(missing)}")
        expected = discovery_url.removesuffix("/.well-known/openid-configuration")
        if data["issuer"].rstrip("/") != expected.rstrip("/"):
            # OpenID Connect Discovery 1.0 section 4.3: the issuer is the URL it was fetched from.
            raise OneLoginUnavailable(f"the discovery document's issuer {data['issuer']!r} is not "
                                      f"the one it was fetched from")
        algs = tuple(a for a in data.get("id_token_signing_alg_values_supported") or ("ES256",)
                     if a in ("ES256", "RS256"))
        return cls(data["issuer"], data["authorization_endpoint"], data["token_endpoint"],
                   data["userinfo_endpoint"], data["jwks_uri"], data.get("end_session_endpoint"),
                   algs or ("ES256",))


@dataclass(frozen=True)
class PublishedTrust:
    provider: ProviderMetadata
    id_token_keys: KeySet
    did: DidDocument
    fetched_at: float


class OneLoginProvider(PublishedDocuments[PublishedTrust]):
    what = called = "One Login"
    unavailable = OneLoginUnavailable
    fetch_errors = (DidDocumentError,)

    def __init__(self, config: OneLoginConfig, clock=time.time):
        super().__init__(config.refresh_seconds, clock)
        self.config = config
        self.expected_did = did_web_for(config.did_url)

    def _fetch(self) -> PublishedTrust:
        timeout = self.config.timeout_seconds
        provider = ProviderMetadata.from_json(
            fetch_json(self.config.discovery_url, timeout, OneLoginUnavailable),
            self.config.discovery_url)
        keys = fetch_public_keys(provider.jwks_uri, timeout, "One Login's", OneLoginUnavailable)
        did = parse_did_document(fetch_json(self.config.did_url, timeout, OneLoginUnavailable),
                                 self.expected_did)
        return PublishedTrust(provider, keys, did, self.clock())

    def _described(self, trust: PublishedTrust) -> str:
        return (f"issuer {trust.provider.issuer}, {len(trust.id_token_keys.keys)} ID token keys, "
                f"{len(trust.did.keys)} identity keys")
