"""What an OpenID upstream publishes (its discovery document, its JWKS, and for One Login a DID
document), kept the same way for every such upstream.

Fetched with `requests` and timeouts, kept in process memory (public, rarely changing, nothing
per resident), refreshed every `refresh_seconds`, and at once (at most once a minute) when a
token names a key the copy in hand lacks: the provider rotating its keys. A caller whose token
named such a key goes on with whatever was fetched since it took its copy, so one rotation costs
one fetch however many sign-ins meet it, never a refused sign-in or logout. A failed refresh
keeps the last good copy for 24 refresh intervals and shows in `status()` (/readyz).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Generic, Protocol, TypeVar

import requests
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
CONNECT_TIMEOUT = 3
UNKNOWN_KEY_REFETCH_SECONDS = 60
LAST_GOOD_COPY_FACTOR = 24


class DocumentsUnavailable(Exception):
    """The provider's documents cannot be fetched or trusted, and no good copy is left."""


class _Provider(Protocol):
    issuer: str


class Documents(Protocol):
    provider: _Provider
    fetched_at: float


D = TypeVar("D", bound=Documents)


def fetch_json(url: str, timeout: float, unavailable: type[DocumentsUnavailable]) -> Any:
    response = requests.get(url, timeout=(CONNECT_TIMEOUT, timeout),
                            headers={"Accept": "application/json"})
    response.raise_for_status()
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise unavailable(f"{url} answered with more than 512 KB")
    return response.json()


def fetch_public_keys(url: str, timeout: float, whose: str,
                      unavailable: type[DocumentsUnavailable]) -> KeySet:
    """A JWKS of public keys only: one with a private key is a provider's mistake to refuse."""
    try:
        keys = KeySet.import_key_set(fetch_json(url, timeout, unavailable))
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise unavailable(f"{whose} JWKS is not a usable key set: {type(exc).__name__}") from None
    if any(key.is_private for key in keys.keys):
        raise unavailable(f"{whose} JWKS publishes a private key")
    return keys


class PublishedDocuments(Generic[D]):
    """One provider's documents in this process. Subclasses say how to fetch them."""

    what = "OpenID provider"  # in log lines
    called = "the provider"  # in refusals: "not from the provider"
    unavailable: type[DocumentsUnavailable] = DocumentsUnavailable
    fetch_errors: tuple[type[Exception], ...] = ()

    def __init__(self, refresh_seconds: int, clock=time.time):
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._documents: D | None = None
        self._last_error: tuple[str, float] | None = None
        self._last_forced = 0.0

    def _fetch(self) -> D:
        raise NotImplementedError

    def _described(self, documents: D) -> str:
        return f"issuer {documents.provider.issuer}"

    def refresh(self) -> D:
        """Fetches every document now; on failure keeps the last good copy and raises."""
        try:
            documents = self._fetch()
        except (DocumentsUnavailable, requests.RequestException, ValueError,
                *self.fetch_errors) as exc:
            error = str(exc) or type(exc).__name__
            self._last_error = (error, self.clock())
            log.error("%s documents refresh failed: %s", self.what, error)
            raise self.unavailable(error) from None
        self._documents, self._last_error = documents, None
        log.info("%s documents refreshed (%s)", self.what, self._described(documents))
        return documents

    def current(self) -> D:
        """The documents to trust now: refreshed when due; the last good copy if that fails."""
        with self._lock:
            documents = self._documents
            if documents is None or self.clock() - documents.fetched_at >= self.refresh_seconds:
                try:
                    return self.refresh()
                except DocumentsUnavailable:
                    if documents is None or self._too_old(documents):
                        raise
            return documents

    def last_good(self) -> D | None:
        """The documents in hand, without fetching."""
        return self._documents

    def refetch_for_unknown_key(self, seen: D | None) -> D | None:
        """A token names a key that `seen` (the documents the caller is using) does not have:
        the documents fetched since, if another caller already fetched them, else a fetch now,
        at most once a minute. None: nothing newer than `seen` can be had now."""
        with self._lock:
            if self._documents is not None and self._documents is not seen:
                return self._documents
            if self.clock() - self._last_forced < UNKNOWN_KEY_REFETCH_SECONDS:
                return None
            self._last_forced = self.clock()
            try:
                return self.refresh()
            except DocumentsUnavailable:
                return None

    def _too_old(self, documents: D) -> bool:
        return self.clock() - documents.fetched_at > self.refresh_seconds * LAST_GOOD_COPY_FACTOR

    def status(self) -> dict[str, Any]:
        """For /readyz: a usable copy, when it was fetched, and the last refresh error."""
        try:
            documents = self.current()
        except DocumentsUnavailable:
            documents = self._documents
        error, error_at = self._last_error or (None, None)
        return {"ok": documents is not None and not self._too_old(documents),
                "fetched_at": documents.fetched_at if documents else None,
                "issuer": documents.provider.issuer if documents else None,
                "last_error": error, "last_error_at": error_at}
