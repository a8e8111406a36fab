"""The hub's metadata at hand: fetched, verified (broker/hub/federation.py) and shared by every
broker process through Redis, refreshed on one schedule, the last good copy kept on failure.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import requests

from broker.config import HubConfig
from broker.hub.federation import MAX_METADATA_BYTES, HubMetadata, MetadataError, parse_hub_metadata
from broker.state import BrokerState, StateUnavailable

log = logging.getLogger(__name__)

METADATA_TIMEOUT = (3, 10)
# However short a cacheDuration, refreshes are no closer than verify-saml-libs' minRefreshDelay.
MIN_REFRESH_SECONDS = 60


@dataclass(frozen=True)
class MetadataStatus:
    """What readiness checks and operators need to know about the hub's metadata."""

    usable: bool
    fetched_at: float | None
    valid_until: datetime | None
    last_error: str | None
    last_error_at: float | None

    @property
    def healthy(self) -> bool:
        """Usable, and the most recent refresh succeeded."""
        return self.usable and self.last_error is None

    def as_dict(self) -> dict:
        return {"usable": self.usable, "healthy": self.healthy, "fetched_at": self.fetched_at,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None,
                "last_error": self.last_error, "last_error_at": self.last_error_at}


class HubMetadataSource:
    """The hub's metadata, refreshed on one schedule shared by every broker process.

    The verified XML lives in Redis (broker.state) until its validUntil. When it is older than
    `refresh_seconds`, the one process that wins an atomic claim fetches and verifies it again;
    the others keep using the shared copy. A failed refresh leaves the last good copy in place
    (until its validUntil), is logged, and shows in `status()` on every process; the claim then
    lapses after RETRY_SECONDS, so a hub outage costs one fetch a minute, not one per request.

    Each process re-verifies the shared XML against its truststores once per distinct copy, so
    a value written into Redis by anything else is never believed on its own say-so. Between
    reads of the shared copy a process uses its own for `local_copy_seconds`: the metadata
    changes a few times a year, a sign-in happens many times a second.
    """

    RETRY_SECONDS = 60

    def __init__(self, config: HubConfig, state: BrokerState | None = None,
                 clock=time.time):
        self.config = config
        self.state = state
        self.clock = clock
        self._lock = threading.Lock()
        self._parsed: tuple[str, HubMetadata] | None = None  # (xml, verified metadata)
        self._refused: tuple[str, str] | None = None  # (xml, why): not verified again and again
        self._local_error: tuple[str, float] | None = None
        self._local_copy: tuple[float, dict] | None = None  # (read at, shared copy)

    @property
    def source(self) -> str:
        return str(self.config.metadata_file or self.config.metadata_url)

    def _read(self) -> bytes:
        if self.config.metadata_file is not None:
            return self.config.metadata_file.read_bytes()
        response = requests.get(self.config.metadata_url, timeout=METADATA_TIMEOUT)
        response.raise_for_status()
        if len(response.content) > MAX_METADATA_BYTES:
            raise MetadataError("metadata is larger than 1 MB")
        return response.content

    def _verified(self, xml: str, fetched_at: float) -> HubMetadata:
        with self._lock:
            if self._refused is not None and self._refused[0] == xml:
                raise MetadataError(self._refused[1])
            if self._parsed is None or self._parsed[0] != xml:
                try:
                    metadata = parse_hub_metadata(xml.encode(), self.config, self._now_utc())
                except MetadataError as exc:
                    self._refused = (xml, str(exc))
                    raise
                self._parsed = (xml, metadata)
            metadata = self._parsed[1]
        return replace(metadata, fetched_at=fetched_at)

    def _believable(self, shared: dict) -> bool:
        """Whether the shared copy verifies under this process's trust. One that does not was
        written under another trust (a rotated federation anchor, another checkout's demo keys)
        or by something else entirely: it is stale, not a reason to stop signing residents in."""
        try:
            self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError:
            return False
        return True

    def refresh(self) -> HubMetadata:
        """Fetches and verifies the metadata now, and shares it; raises MetadataError on failure."""
        now = self.clock()
        try:
            xml = self._read().decode("utf-8")
            metadata = self._verified(xml, now)
        except (MetadataError, requests.RequestException, OSError, UnicodeDecodeError) as exc:
            from broker.http_failures import describe_request_failure

            reason = describe_request_failure(exc, self.source)
            self._record_failure(reason, now)
            raise MetadataError(reason) from None
        if self.state is not None:
            ttl = (max(int(metadata.valid_until.timestamp() - now), 1) if metadata.valid_until
                   else self.config.refresh_seconds * 24)
            self.state.save_hub_metadata(xml, now, ttl)
            self.state.save_hub_metadata_status({"last_error": None, "last_error_at": None},
                                                ttl=max(ttl, self.config.refresh_seconds))
            self._local_copy = (now, {"xml": xml, "fetched_at": now})
        self._local_error = None
        log.info("hub metadata refreshed from %s (valid until %s)", self.source,
                 metadata.valid_until.isoformat() if metadata.valid_until else "unspecified")
        return metadata

    def _record_failure(self, error: str, now: float) -> None:
        log.error("hub metadata refresh from %s failed: %s", self.source, error)
        self._local_error = (error, now)
        if self.state is not None:
            try:
                self.state.save_hub_metadata_status({"last_error": error, "last_error_at": now},
                                                    ttl=self.config.refresh_seconds * 24)
            except StateUnavailable:
                pass

    def _shared(self, fresh: bool = False) -> dict | None:
        if self.state is None:
            return None if self._parsed is None else {
                "xml": self._parsed[0], "fetched_at": self._parsed[1].fetched_at}
        now = self.clock()
        local = self._local_copy
        if not fresh and local is not None and 0 <= now - local[0] < self.config.local_copy_seconds:
            return local[1]
        shared = self.state.get_hub_metadata()
        self._local_copy = (now, shared) if shared is not None else None
        return shared

    def current(self) -> HubMetadata:
        """The trusted metadata to use now; MetadataError when there is none still valid."""
        try:
            shared = self._shared()
            if self._stale(shared) and self._claim_refresh():
                shared = self._shared(fresh=True)  # another process may have just refreshed it
                if self._stale(shared):
                    try:
                        metadata = self.refresh()
                        self._release_claim()
                        return metadata
                    except MetadataError:
                        pass  # the claim lapses after RETRY_SECONDS: the next retry
                    shared = self._shared(fresh=True)
                else:
                    self._release_claim()
            elif shared is None or not self._believable(shared):
                shared = self._own_copy() or self._await_believable_copy()
        except StateUnavailable as exc:
            log.error("hub metadata: shared store unavailable, using this process's copy: %s",
                      exc)
            shared = None
        if shared is None or not self._believable(shared):
            shared = self._own_copy()
        if shared is None:
            raise MetadataError("no trusted hub metadata is available yet")
        metadata = self._verified(shared["xml"], shared["fetched_at"])
        if metadata.expired_at(self._now_utc()):
            raise MetadataError("the last good hub metadata has passed its validUntil (or its "
                                "hub or metadata signing certificates have expired)")
        return metadata

    def _own_copy(self) -> dict | None:
        """The last copy this process itself verified under its trust: the last good copy when
        the shared one is missing or no longer verifies and no fresh one could be had."""
        return None if self._parsed is None else {
            "xml": self._parsed[0], "fetched_at": self._parsed[1].fetched_at}

    def _await_believable_copy(self) -> dict | None:
        """No copy this process can believe, and another process holds the claim: it is fetching
        one now (at cold start, or after a trust change, every sign-in arrives here at once).
        Wait for its fetch, not fail the sign-in."""
        deadline = time.monotonic() + sum(METADATA_TIMEOUT) + 1
        shared = self._shared(fresh=True)
        while (shared is None or not self._believable(shared)) and time.monotonic() < deadline:
            time.sleep(0.05)
            shared = self._shared(fresh=True)
        return shared

    def _stale(self, shared: dict | None) -> bool:
        if shared is None:
            return True
        try:
            metadata = self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError:
            return True
        return self.clock() - shared["fetched_at"] >= self.refresh_seconds(metadata)

    def refresh_seconds(self, metadata: HubMetadata) -> float:
        """`hub.refresh_seconds`, or the metadata's shortest cacheDuration if that is shorter
        (but not below MIN_REFRESH_SECONDS): the longest time a copy is used before it is
        fetched again."""
        interval = float(self.config.refresh_seconds)
        if metadata.cache_duration is not None:
            cache = max(metadata.cache_duration.total_seconds(), MIN_REFRESH_SECONDS)
            interval = min(interval, cache)
        return interval

    def _release_claim(self) -> None:
        if self.state is not None:
            self.state.release_hub_metadata_refresh()

    def _claim_refresh(self) -> bool:
        if self.state is None:
            return True
        return self.state.claim_hub_metadata_refresh(self.RETRY_SECONDS)

    def _now_utc(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def status(self) -> MetadataStatus:
        """For readiness and operators: usable copy, its age and validity, last refresh error.

        It first does what a sign-in would (refresh when due, under the shared claim), so that
        readiness probes keep the metadata on schedule even when no resident is signing in.
        """
        try:
            self.current()
        except (MetadataError, StateUnavailable):
            pass  # reported below
        error, error_at = self._local_error or (None, None)
        try:
            shared = self._shared()
            if self.state is not None:
                recorded = self.state.get_hub_metadata_status() or {}
                error, error_at = recorded.get("last_error"), recorded.get("last_error_at")
        except StateUnavailable as exc:
            # A Redis outage says nothing of the metadata: report the copy this process holds
            # (what its sign-ins would use); the state store's health is a metric of its own.
            shared, error, error_at = self._own_copy(), f"shared store unavailable: {exc}", \
                self.clock()
            if shared is None:
                return MetadataStatus(False, None, None, error, error_at)
        if shared is None:
            return MetadataStatus(False, None, None, error, error_at)
        try:
            metadata = self._verified(shared["xml"], shared["fetched_at"])
        except MetadataError as exc:
            return MetadataStatus(False, shared["fetched_at"], None, str(exc), self.clock())
        usable = not metadata.expired_at(self._now_utc())
        return MetadataStatus(usable, metadata.fetched_at, metadata.valid_until, error,
                              error_at)
