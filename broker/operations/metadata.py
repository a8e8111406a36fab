"""`broker metadata status|refresh`: what the broker currently believes about the hub.

`status` reads the copy every broker process shares through Redis and never fetches; `refresh`
fetches and verifies now (as a broker process would when the copy is stale) and shares the result,
so an operator can follow a hub metadata change without waiting for the schedule.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from broker.config import BrokerConfig, ConfigError, load_config
from broker.hub.federation import HubMetadata, MetadataError, parse_hub_metadata
from broker.hub.metadata_source import HubMetadataSource
from broker.operations.certs import der_certificate_info
from broker.state import BrokerState, StateUnavailable, connect


def _require_hub(config: BrokerConfig) -> BrokerConfig:
    if config.hub is None:
        raise ConfigError(config.source, "hub", "no `hub:` section: the hub's metadata is only "
                          "used with Verify's hub as the upstream")
    return config


def _source(config: BrokerConfig) -> tuple[HubMetadataSource, BrokerState]:
    client = connect(config.redis, allow_embedded=False)
    state = BrokerState(client, config.redis.key_prefix)
    return HubMetadataSource(config.hub, state), state


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(metadata: HubMetadata | None, source: HubMetadataSource, state: BrokerState
             ) -> list[str]:
    """The lines `status` and `refresh` print, read from the shared store without fetching
    (HubMetadataSource.status() refreshes when due, which a status command must not do)."""
    shared = state.get_hub_metadata()
    recorded = state.get_hub_metadata_status() or {}
    lines = [f"source:          {source.source}"]
    if metadata is not None:
        lines += [f"hub entityID:    {metadata.entity_id}",
                  f"SSO endpoint:    {metadata.sso_url} (HTTP-POST)"]
        for index, cert in enumerate(metadata.signing_certs, start=1):
            info = der_certificate_info(cert.pem)
            lines.append(f"signing cert {index}:  {info.subject}, {info.describe()}")
        lines.append(f"identity providers: {len(metadata.identity_providers)} "
                     f"({', '.join(idp.entity_id for idp in metadata.identity_providers)})")
        lines.append("validUntil:      " + (f"{metadata.valid_until:%Y-%m-%dT%H:%M:%SZ}"
                                            if metadata.valid_until else "not given"))
    else:
        lines.append("hub entityID:    (no trusted metadata in the shared store)")
    lines.append(f"last refresh:    {_when(shared['fetched_at'] if shared else None)}")
    error = recorded.get("last_error")
    outcome = "ok" if error is None else f"failed at {_when(recorded.get('last_error_at'))}: {error}"
    lines.append(f"last outcome:    {outcome if shared or error else 'none yet'}")
    usable = metadata is not None and (metadata.valid_until is None
                                       or metadata.valid_until > datetime.now(UTC))
    lines.append(f"usable:          {'yes' if usable else 'no'}")
    return lines


def status(config_path: str | None) -> int:
    config = _require_hub(load_config(config_path))
    try:
        source, state = _source(config)
        shared = state.get_hub_metadata()
    except (StateUnavailable, OSError, Exception) as exc:  # noqa: BLE001 - redis.RedisError et al.
        print(f"broker: {config.source}: redis.url: cannot read the shared metadata: {exc}",
              file=sys.stderr)
        return 2
    metadata = None
    if shared is not None:
        try:
            metadata = parse_hub_metadata(shared["xml"].encode(), config.hub)
        except MetadataError as exc:
            print(f"broker: {config.source}: hub: the shared copy is not usable: {exc}",
                  file=sys.stderr)
    for line in describe(metadata, source, state):
        print(line)
    return 0 if metadata is not None else 2


def refresh(config_path: str | None) -> int:
    config = _require_hub(load_config(config_path))
    key = "hub.metadata_file" if config.hub.metadata_file else "hub.metadata_url"
    try:
        source, state = _source(config)
    except Exception as exc:  # noqa: BLE001 - redis.RedisError: say it in one line
        print(f"broker: {config.source}: redis.url: not reachable: {exc}", file=sys.stderr)
        return 2
    source_log = logging.getLogger("broker.hub.metadata_source")
    was_disabled, source_log.disabled = source_log.disabled, True  # our line says it once
    try:
        metadata = source.refresh()
    except MetadataError as exc:
        print(f"broker: {config.source}: {key}: refresh failed (the last good copy stays in use): "
              f"{exc}", file=sys.stderr)
        return 2
    finally:
        source_log.disabled = was_disabled
    for line in describe(metadata, source, state):
        print(line)
    return 0
