"""What the OpenID provider publishes: its discovery document (OpenID Connect Discovery 1.0) and
the JWKS that signs its ID tokens.

Fetched with `requests` and timeouts, kept in process memory (public, rarely changing, nothing
per resident), refreshed every `refresh_seconds`, and at once (at most once a minute) when an
ID token names a key we do not have: the provider rotating its keys. A failed refresh keeps the
last good copy for up to 24 refresh intervals and shows in `status()` (/readyz).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from broker.config import OpenIdIdaConfig

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
CONNECT_TIMEOUT = 3
UNKNOWN_KEY_REFETCH_SECONDS = 60
LAST_GOOD_COPY_FACTOR = 24
ID_TOKEN_ALGS = ("RS256", "PS256", "ES256", "EdDSA")


class ProviderUnavailable(Exception):
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


def fetch_json(url: str, timeout: float) -> Any:
    response = requests.get(url, timeout=(CONNECT_TIMEOUT, timeout),
                            headers={"Accept": "application/json"})
    response.raise_for_status()
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise ProviderUnavailable(f"{url} answered with more than 512 KB")
    return response.json()


class OpenIdProvider:
    def __init__(self, config: OpenIdIdaConfig, clock=time.time):
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._trust: PublishedTrust | None = None
        self._last_error: tuple[str, float] | None = None
        self._last_forced = 0.0

    def _fetch(self) -> PublishedTrust:
        timeout = self.config.timeout_seconds
        provider = ProviderMetadata.from_json(fetch_json(self.config.discovery_url, timeout),
                                              self.config.issuer)
        try:
            keys = KeySet.import_key_set(fetch_json(provider.jwks_uri, timeout))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable(f"the provider's JWKS is not a usable key set: "
                                      f"{type(exc).__name__}") from None
        if any(key.is_private for key in keys.keys):
            raise ProviderUnavailable("the provider's JWKS publishes a private key")
        return PublishedTrust(provider, keys, self.clock())

    def refresh(self) -> PublishedTrust:
        try:
            trust = self._fetch()
        except (ProviderUnavailable, requests.RequestException, ValueError) as exc:
            error = str(exc) or type(exc).__name__
            self._last_error = (error, self.clock())
            log.error("OpenID provider documents refresh failed: %s", error)
            raise ProviderUnavailable(error) from None
        self._trust, self._last_error = trust, None
        log.info("OpenID provider documents refreshed (issuer %s, %d ID token keys)",
                 trust.provider.issuer, len(trust.id_token_keys.keys))
        return trust

    def current(self) -> PublishedTrust:
        """The documents to trust now: refreshed when due; the last good copy if that fails."""
        with self._lock:
            trust = self._trust
            if trust is None or self.clock() - trust.fetched_at >= self.config.refresh_seconds:
                try:
                    return self.refresh()
                except ProviderUnavailable:
                    if trust is None or self._too_old(trust):
                        raise
            return trust

    def last_good(self) -> PublishedTrust | None:
        """The documents in hand, without fetching."""
        return self._trust

    def refetch_for_unknown_key(self) -> PublishedTrust | None:
        """An ID token names a key we do not have: fetch again, at most once a minute."""
        with self._lock:
            if self.clock() - self._last_forced < UNKNOWN_KEY_REFETCH_SECONDS:
                return None
            self._last_forced = self.clock()
            try:
                return self.refresh()
            except ProviderUnavailable:
                return None

    def _too_old(self, trust: PublishedTrust) -> bool:
        return self.clock() - trust.fetched_at > self.config.refresh_seconds * LAST_GOOD_COPY_FACTOR

    def status(self) -> dict[str, Any]:
        try:
            trust = self.current()
        except ProviderUnavailable:
            trust = self._trust
        error, error_at = self._last_error or (None, None)
        return {"ok": trust is not None and not self._too_old(trust),
                "fetched_at": trust.fetched_at if trust else None,
                "issuer": trust.provider.issuer if trust else None,
                "last_error": error, "last_error_at": error_at}
