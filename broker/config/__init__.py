"""Configuration: one YAML file (chosen by BROKER_CONFIG) plus environment overrides.

Everything is validated at start-up into typed objects, so a mistake stops the broker with one
line naming the file, the key and the problem, instead of surfacing mid-sign-in.

This module is the package's public face: the typed model (model.py), load_config (loading.py)
and the few helpers `broker check-config` and `broker keys` share with the loader. Each section
of the file has its own reader module (hub, oidc, councils, upstreams, infrastructure), all
built on reader.py's one-line errors.
"""

from broker.config.environment import ENV_OVERRIDES, interpolate
from broker.config.loading import load_config
from broker.config.model import (
    ACCOUNT_CREATION_ATTRIBUTES,
    AUTH_METHODS,
    DATASET_SCHEMAS,
    FAILURE_KINDS,
    ONE_LOGIN_CLIENT_ALGS,
    OPENID_IDA_CLAIMS,
    OPENID_IDA_CLIENT_ALGS,
    OPENID_IDA_CLIENT_AUTH,
    PER_IP_ONLY,
    RATE_LIMIT_DEFAULTS,
    SECRET_AUTH_METHODS,
    UPSTREAM_KINDS,
    AssuranceRule,
    BrokerConfig,
    ClientConfig,
    CouncilConfig,
    Cycle3Config,
    DatabaseConfig,
    DataKeyConfig,
    HubConfig,
    KeyPair,
    MatchingConfig,
    OidcConfig,
    OneLoginConfig,
    OpenIdIdaConfig,
    RateLimitConfig,
    RateLimitRules,
    RedisConfig,
    SamlConfig,
    SigningKeyConfig,
)
from broker.config.production import (
    PUBLISHED_CLIENT_SECRETS,
    PUBLISHED_SECRET_KEYS,
    loose_permissions,
    placeholder_secret,
)
from broker.config.reader import unreadable
from broker.errors import ConfigError

__all__ = [
    "ACCOUNT_CREATION_ATTRIBUTES", "AUTH_METHODS", "DATASET_SCHEMAS", "ENV_OVERRIDES",
    "FAILURE_KINDS", "ONE_LOGIN_CLIENT_ALGS", "OPENID_IDA_CLAIMS", "OPENID_IDA_CLIENT_ALGS",
    "OPENID_IDA_CLIENT_AUTH", "PER_IP_ONLY", "PUBLISHED_CLIENT_SECRETS", "PUBLISHED_SECRET_KEYS",
    "RATE_LIMIT_DEFAULTS", "SECRET_AUTH_METHODS", "UPSTREAM_KINDS", "AssuranceRule",
    "BrokerConfig", "ClientConfig", "ConfigError", "CouncilConfig", "Cycle3Config",
    "DataKeyConfig", "DatabaseConfig", "HubConfig", "KeyPair", "MatchingConfig", "OidcConfig",
    "OneLoginConfig", "OpenIdIdaConfig", "RateLimitConfig", "RateLimitRules", "RedisConfig",
    "SamlConfig", "SigningKeyConfig", "interpolate", "load_config", "loose_permissions",
    "placeholder_secret", "unreadable",
]
