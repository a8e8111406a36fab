"""What One Login publishes: its discovery document, the JWKS that signs ID tokens, and the
identity service's DID document that signs core identity JWTs.

Fetched over HTTPS with `requests` and timeouts, kept in process memory (they are public and
change rarely; nothing per resident lives here), refreshed every `refresh_seconds`, and at once
(at most once a minute) when a token names a key we do not have: One Login rotating its keys.
A redemption that caused (or missed) such a refetch goes on with the fresh documents, so a
rotation of the ID token and identity keys together costs one fetch, not a refused sign-in.
A failed refresh keeps the last good copy for up to a day and shows in `status()` (/readyz).
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

from broker.config import OneLoginConfig
from broker.onelogin.did import DidDocument, DidDocumentError, did_web_for, parse_did_document

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
CONNECT_TIMEOUT = 3
UNKNOWN_KEY_REFETCH_SECONDS = 60
LAST_GOOD_COPY_FACTOR = 24  # keep a copy for 24 refresh intervals after refreshes start failing


class OneLoginUnavailable(Exception):
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


def fetch_json(url: str, timeout: float) -> Any:
    response = requests.get(url, timeout=(CONNECT_TIMEOUT, timeout),
                            headers={"Accept": "application/json"})
    response.raise_for_status()
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise OneLoginUnavailable(f"{url} answered with more than 512 KB")
    return response.json()


class OneLoginProvider:
    def __init__(self, config: OneLoginConfig, clock=time.time):
        self.config = config
        self.clock = clock
        self.expected_did = did_web_for(config.did_url)
        self._lock = threading.Lock()
        self._trust: PublishedTrust | None = None
        self._last_error: tuple[str, float] | None = None
        self._last_forced = 0.0

    def _fetch(self) -> PublishedTrust:
        timeout = self.config.timeout_seconds
        provider = ProviderMetadata.from_json(fetch_json(self.config.discovery_url, timeout),
                                              self.config.discovery_url)
        try:
            keys = KeySet.import_key_set(fetch_json(provider.jwks_uri, timeout))
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise OneLoginUnavailable(f"One Login's JWKS is not a usable key set: {exc}") from None
        if any(key.is_private for key in keys.keys):
            raise OneLoginUnavailable("One Login's JWKS publishes a private key")
        did = parse_did_document(fetch_json(self.config.did_url, timeout), self.expected_did)
        return PublishedTrust(provider, keys, did, self.clock())

    def refresh(self) -> PublishedTrust:
        """Fetches all three documents now; on failure keeps the last good copy and raises."""
        try:
            trust = self._fetch()
        except (OneLoginUnavailable, DidDocumentError, requests.RequestException,
                ValueError) as exc:
            error = str(exc) or type(exc).__name__
            self._last_error = (error, self.clock())
            log.error("One Login documents refresh failed: %s", error)
            raise OneLoginUnavailable(error) from None
        self._trust, self._last_error = trust, None
        log.info("One Login documents refreshed (issuer %s, %d ID token keys, %d identity keys)",
                 trust.provider.issuer, len(trust.id_token_keys.keys), len(trust.did.keys))
        return trust

    def current(self) -> PublishedTrust:
        """The documents to trust now: refreshed when due; the last good copy if that fails."""
        with self._lock:
            trust = self._trust
            if trust is None or self.clock() - trust.fetched_at >= self.config.refresh_seconds:
                try:
                    return self.refresh()
                except OneLoginUnavailable:
                    if trust is None or self._too_old(trust):
                        raise
            return trust

    def last_good(self) -> PublishedTrust | None:
        return self._trust

    def refetch_for_unknown_key(self, seen: PublishedTrust) -> PublishedTrust | None:
        """A token names a key that `seen` (the documents the caller is using) does not have:
        the documents fetched since, if another caller already fetched them, else a fetch now,
        at most once a minute. None: nothing newer than `seen` can be had now."""
        with self._lock:
            if self._trust is not None and self._trust is not seen:
                return self._trust
            if self.clock() - self._last_forced < UNKNOWN_KEY_REFETCH_SECONDS:
                return None
            self._last_forced = self.clock()
            try:
                return self.refresh()
            except OneLoginUnavailable:
                return None

    def _too_old(self, trust: PublishedTrust) -> bool:
        return self.clock() - trust.fetched_at > self.config.refresh_seconds * LAST_GOOD_COPY_FACTOR

    def status(self) -> dict[str, Any]:
        """For /readyz: a usable copy, when it was fetched, and the last refresh error."""
        try:
            trust = self.current()
        except OneLoginUnavailable:
            trust = self._trust
        error, error_at = self._last_error or (None, None)
        usable = trust is not None and not self._too_old(trust)
        return {"ok": usable, "fetched_at": trust.fetched_at if trust else None,
                "issuer": trust.provider.issuer if trust else None,
                "last_error": error, "last_error_at": error_at}
