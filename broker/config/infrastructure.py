"""What the broker runs on: `redis`, `database`, `rate_limits`, `proxy` and the `data_keys`
that seal what Redis holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from broker.config.model import (
    PER_IP_ONLY,
    RATE_LIMIT_DEFAULTS,
    DatabaseConfig,
    DataKeyConfig,
    RateLimitConfig,
    RateLimitRules,
    RedisConfig,
)
from broker.config.reader import Reader
from broker.sealing import KEY_ID, DataKey, decode_secret


def read_redis(file: Reader, raw: Mapping[str, Any]) -> RedisConfig:
    embedded = file.get(raw, "embedded_fallback", "redis.", bool, default=False)
    if embedded and file.mode == "production":
        raise file.fail("redis.embedded_fallback", "not allowed in production mode")
    redis_url = file.get(raw, "url", "redis.", default="redis://127.0.0.1:6379/0")
    if urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise file.fail("redis.url", "must be a redis://, rediss:// or unix:// URL")
    sentinel_raw = file.get(raw, "sentinel", "redis.", dict, default={})
    sentinels = []
    for i, address in enumerate(file.get(sentinel_raw, "hosts", "redis.sentinel.", list,
                                         default=[])):
        host, _, port = str(address).rpartition(":")
        if not host or not port.isdigit():
            raise file.fail(f"redis.sentinel.hosts[{i}]", f"must be host:port, got {address!r}")
        sentinels.append((host, int(port)))
    service = file.get(sentinel_raw, "service_name", "redis.sentinel.", default=None)
    if bool(sentinels) != bool(service):
        raise file.fail("redis.sentinel", "needs both hosts and service_name")
    return RedisConfig(
        url=redis_url,
        key_prefix=file.get(raw, "key_prefix", "redis.", default="broker:"),
        embedded_fallback=embedded,
        sentinels=tuple(sentinels), sentinel_service=service,
        socket_timeout_seconds=float(file.get(raw, "socket_timeout_seconds", "redis.",
                                              (int, float), default=2)),
    )


def read_database(file: Reader, raw: Mapping[str, Any]) -> DatabaseConfig:
    url = file.get(raw, "url", "database.", default="sqlite:///var/broker/links.sqlite3")
    if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
        raise file.fail("database.url", "must be a sqlite: or postgresql: URL")
    return DatabaseConfig(url=url, auto_upgrade=file.get(raw, "auto_upgrade", "database.",
                                                         bool, default=False))


def read_rate_limits(file: Reader, raw: Mapping[str, Any]) -> RateLimitConfig:
    from limits import parse_many

    sections = []
    for section, default in RATE_LIMIT_DEFAULTS.items():
        item = file.get(raw, section, "rate_limits.", dict, default={})
        rules = {}
        for scope in ("per_ip", "per_client"):
            value = file.get(item, scope, f"rate_limits.{section}.", (str, bool),
                             default=getattr(default, scope))
            if scope == "per_client" and section in PER_IP_ONLY and value:
                raise file.fail(f"rate_limits.{section}.per_client", PER_IP_ONLY[section])
            if value is False or value == "none":
                value = None
            elif value is True:
                raise file.fail(f"rate_limits.{section}.{scope}", "must be a limit or none")
            elif value is not None:
                try:
                    parse_many(value)
                except ValueError:
                    raise file.fail(f"rate_limits.{section}.{scope}",
                                    f"not a limit like 120/minute: {value!r}") from None
            rules[scope] = value
        sections.append((section, RateLimitRules(**rules)))
    unknown = set(raw) - set(RATE_LIMIT_DEFAULTS) - {"enabled", "batch_fraction"}
    if unknown:
        raise file.fail(f"rate_limits.{sorted(unknown)[0]}",
                        f"unknown section; use {', '.join(RATE_LIMIT_DEFAULTS)}, enabled "
                        "or batch_fraction")
    batch_fraction = file.get(raw, "batch_fraction", "rate_limits.", (int, float),
                              default=RateLimitConfig.batch_fraction)
    if isinstance(batch_fraction, bool) or not 0 <= batch_fraction <= 0.5:
        raise file.fail("rate_limits.batch_fraction",
                        f"must be a number from 0 to 0.5, got {batch_fraction!r}")
    return RateLimitConfig(enabled=file.get(raw, "enabled", "rate_limits.", bool, default=True),
                           sections=tuple(sections), batch_fraction=float(batch_fraction))


def read_trusted_hops(file: Reader, raw: Mapping[str, Any]) -> int:
    hops = file.get(raw, "trusted_hops", "proxy.", int, default=0)
    if not 0 <= hops <= 5:
        raise file.fail("proxy.trusted_hops", "must be between 0 and 5")
    return hops


def read_data_keys(file: Reader, raw: list[Any], mode: str) -> tuple[DataKeyConfig, ...]:
    """`- file: key.jwk.json` (a JWK of type oct with a kid), or `- id: … key: ${NAME}`
    (base64 of 32 bytes, from the environment); `encrypts: false` on all but one."""
    import json

    if not raw and mode == "production":
        raise file.fail("data_keys", "is required in production (it seals personal data in "
                        "Redis): `broker keys generate data` writes one")
    keys: list[DataKeyConfig] = []
    for i, item in enumerate(raw):
        prefix = f"data_keys[{i}]."
        if not isinstance(item, Mapping):
            raise file.fail(f"data_keys[{i}]", "must be a mapping with `file`, or `id` and `key`")
        try:
            if item.get("file") is not None:
                if item.get("key") is not None:
                    raise file.fail(f"{prefix}key", "give either `file` or `key`, not both")
                path = file.path(item, "file", prefix)
                file.private(path, f"{prefix}file")
                try:
                    jwk = json.loads(file.read(path, f"{prefix}file"))
                except ValueError as exc:
                    raise file.fail(f"{prefix}file", f"{path} is not a JSON JWK: {exc}") from None
                if not isinstance(jwk, dict):
                    raise file.fail(f"{prefix}file", f"{path} is not a JSON JWK")
                key = DataKey.from_jwk(jwk)
            else:
                secret = file.get(item, "key", prefix)
                if not secret:
                    raise file.fail(f"{prefix}key", "is empty (is its environment variable set?)")
                key_id = str(file.get(item, "id", prefix))
                if not KEY_ID.match(key_id):
                    raise file.fail(f"{prefix}id", "must be 1-64 letters, digits, '.', '_' or '-'")
                key = DataKey(key_id, decode_secret(secret))
        except ValueError as exc:
            raise file.fail(f"{prefix}{'file' if item.get('file') else 'key'}", str(exc)) from None
        keys.append(DataKeyConfig(key, file.get(item, "encrypts", prefix, bool, default=True)))
    ids = [k.id for k in keys]
    for i, key_id in enumerate(ids):
        if key_id in ids[:i]:
            raise file.fail(f"data_keys[{i}]", f"duplicate key id {key_id!r}")
    if keys and sum(k.encrypts for k in keys) != 1:
        raise file.fail("data_keys", "exactly one key must encrypt; mark the others "
                        "`encrypts: false`")
    return tuple(keys)
