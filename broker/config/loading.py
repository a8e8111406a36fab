"""From the file named by BROKER_CONFIG to a BrokerConfig: YAML, the environment, then each
section's reader; keys nobody read are refused afterwards (broker.config_keys).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from broker.config.branding import neutral_brand, read_brand
from broker.config.councils import read_councils, read_residents_links
from broker.config.environment import ENV_OVERRIDES, interpolate, refuse_unset_variables, set_dotted
from broker.config.hub import read_hub, read_saml
from broker.config.infrastructure import (
    read_data_keys,
    read_database,
    read_rate_limits,
    read_redis,
    read_trusted_hops,
)
from broker.config.model import BrokerConfig
from broker.config.oidc import read_clients, read_oidc
from broker.config.production import PUBLISHED_SECRET_KEYS
from broker.config.reader import Reader, unreadable
from broker.config.upstreams import read_upstream
from broker.config_keys import ReadKeys, plain
from broker.errors import ConfigError


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> BrokerConfig:
    environ = os.environ if environ is None else environ
    path = path or environ.get("BROKER_CONFIG")
    if not path:
        raise ConfigError("(environment)", "BROKER_CONFIG", "not set: name the YAML file to load")
    source = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(source, "(file)", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, "(file)", f"cannot read: {unreadable(exc)}") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(source, exc) from None
    if not isinstance(raw, dict):
        raise ConfigError(source, "(file)", "must be a mapping of keys")
    overridden = {dotted for env_name, dotted in ENV_OVERRIDES.items() if environ.get(env_name)}
    refuse_unset_variables(source, raw, environ, overridden)
    raw = interpolate(raw, environ)
    for env_name, dotted in ENV_OVERRIDES.items():
        if environ.get(env_name):
            set_dotted(raw, dotted, environ[env_name])
    read = ReadKeys(source, raw)  # the keys the reader asks for are the known ones
    try:
        config = read_broker(Reader(source, Path(path).resolve().parent), read.tree)
    except ConfigError as exc:
        raise read.explain(exc) from None
    read.refuse_unknown()
    return plain(config)



def _yaml_error(source: str, exc: yaml.YAMLError) -> ConfigError:
    """Names the line where the mistake is: an unclosed quote or bracket is reported by PyYAML at
    the end of the file, so the line where it was opened is the one to name."""
    problem = getattr(exc, "problem", None) or str(exc)
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    if context is not None and mark is not None and "end of stream" in problem:
        text = f"{getattr(exc, 'context', '')} opened here is never closed ({problem})"
        return ConfigError(source, f"line {context.line + 1}", f"not valid YAML: {text.strip()}")
    where = f"line {mark.line + 1}" if mark else "(file)"
    return ConfigError(source, where, f"not valid YAML: {problem}")



def read_broker(file: Reader, raw: dict[str, Any]) -> BrokerConfig:
    mode = file.get(raw, "mode", "", default="development")
    if mode not in ("development", "production"):
        raise file.fail("mode", f"must be development or production, got {mode!r}")
    file.mode = mode
    issuer = file.url(raw, "issuer", "")
    secret_key = file.get(raw, "secret_key", "")
    if mode == "production" and len(secret_key) < 32:
        raise file.fail("secret_key", "must be at least 32 characters in production")
    if mode == "production" and secret_key in PUBLISHED_SECRET_KEYS:
        raise file.fail("secret_key", "is a value published in the broker's repository; "
                        "use a random value of your own (openssl rand -base64 48)")
    redis = read_redis(file, file.get(raw, "redis", "", dict, default={}))
    councils = read_councils(file, file.get(raw, "councils", "", dict))
    oidc = read_oidc(file, file.get(raw, "oidc", "", dict))
    upstream = read_upstream(file, raw)
    # Verify's sections: required when the hub is anyone's upstream, optional otherwise.
    verify = "verify" in {upstream["upstream"], *(c.upstream for c in councils.values())}
    return BrokerConfig(
        source=file.source, mode=mode, issuer=issuer, secret_key=secret_key,
        redis=redis,
        saml=read_saml(file, file.get(raw, "saml", "", dict))
        if verify or raw.get("saml") is not None else None,
        hub=read_hub(file, file.get(raw, "hub", "", dict))
        if verify or raw.get("hub") is not None else None,
        oidc=oidc,
        councils=councils,
        clients=read_clients(file, file.get(raw, "clients", "", list), councils,
                             oidc.signing_keys),
        database=read_database(file, file.get(raw, "database", "", dict, default={})),
        rate_limits=read_rate_limits(file, file.get(raw, "rate_limits", "", dict, default={})),
        proxy_trusted_hops=read_trusted_hops(file, file.get(raw, "proxy", "", dict, default={})),
        data_keys=read_data_keys(file, file.get(raw, "data_keys", "", list, default=[]), mode),
        branding=read_residents_links(file, raw, "", read_brand(
            raw.get("branding"), "branding.", key="deployment",
            default_name=neutral_brand().name, default_url=None, base=file.base,
            fail=file.fail)),
        **upstream,
    )
