"""Configuration: one YAML file (chosen by BROKER_CONFIG) plus environment overrides.

Everything is validated at start-up into typed objects, so a mistake stops the broker with one
line naming the file, the key and the problem, instead of surfacing mid-sign-in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from broker.claims_catalogue import RELEASABLE_CLAIMS
from broker.config.branding import Brand, Text, neutral_brand, read_brand
from broker.config_keys import ReadKeys, plain
from broker.errors import ConfigError
from broker.identity import LevelOfAssurance
from broker.sealing import KEY_ID, DataKey, Sealer, decode_secret

ENV_OVERRIDES = {
    "BROKER_ISSUER": "issuer",
    "BROKER_REDIS_URL": "redis.url",
    "BROKER_SECRET_KEY": "secret_key",
    "BROKER_MODE": "mode",
    "BROKER_HUB_METADATA_URL": "hub.metadata_url",
    "BROKER_DATABASE_URL": "database.url",
}


# Every secret_key written in the repository (demo, examples, compose, tests): anyone can read
# them, so production refuses them (tests/test_config.py checks this list against the files).
PUBLISHED_SECRET_KEYS = frozenset({
    "demo-only-secret-key-change-me-in-any-real-deployment",
    "change-me-to-a-long-random-value-from-your-secret-store",
    "compose-stack-only-secret-key-change-me-000000",
    "test-secret-key-that-is-long-enough-000",
})


# What a placeholder client secret looks like (config/example.yaml's `change-me` among them):
# production refuses them, since a council app's secret is what lets it redeem a resident's code.
# The compose stack's demo client keeps its published secret: the demo council app, built into
# the stack, has it too.
PUBLISHED_CLIENT_SECRETS = frozenset({"change-me", "conformance-basic-secret"})
_PLACEHOLDER_WORDS = ("changeme", "replaceme", "changethis", "placeholder", "yoursecret")
_PLACEHOLDERS = frozenset({"secret", "clientsecret", "password", "todo", "example", "test",
                           "none", "null", "default"})


def placeholder_secret(secret: str) -> bool:
    letters = re.sub(r"[^a-z0-9]", "", secret.lower())
    return (secret in PUBLISHED_CLIENT_SECRETS or letters in _PLACEHOLDERS
            or any(word in letters for word in _PLACEHOLDER_WORDS) or set(letters) == {"x"})


def loose_permissions(path: Path) -> str | None:
    """Why a private key file is open to other users, or None. As PostgreSQL asks of its key: no
    more than 0600, or 0640 when root owns the file (the broker reading it through its group)."""
    status = path.stat()
    mode = status.st_mode & 0o777
    if not mode & 0o077 or (status.st_uid == 0 and not mode & 0o037):
        return None
    return (f"{path} is open to other users (mode {mode:04o}): make it 0600, owned by the "
            "broker's user (or 0640, owned by root and the broker's group)")


@dataclass(frozen=True)
class KeyPair:
    key_pem: str
    cert_pem: str


@dataclass(frozen=True)
class SamlConfig:
    entity_id: str
    signing: KeyPair
    encryption: tuple[KeyPair, ...]
    clock_skew_seconds: int
    # A signing certificate published beside the current one before a switch, so the hub
    # already trusts it when AuthnRequests start to be signed with it.
    signing_next_cert_pem: str | None = None


@dataclass(frozen=True)
class HubConfig:
    """The federation: where its metadata is, what it must chain to, where the hub's SSO is.

    The hub's entity in Verify's federation metadata has no SSO location (verify-service-provider
    ADR 0018): the hub's SSO URL is configuration, per environment. `entity_id` picks the hub's
    entity; without it, the one entity with an SPSSODescriptor and no IDPSSODescriptor is the hub.
    """

    metadata_url: str | None
    metadata_file: Path | None
    sso_url: str
    # PEM bundles (root CA + intermediate) the metadata signing certificate, the hub's and the
    # identity providers' certificates must chain to.
    metadata_truststore_pem: str
    hub_truststore_pem: str
    idp_truststore_pem: str
    refresh_seconds: int
    # How long a process uses its own copy of the shared metadata before reading Redis again.
    local_copy_seconds: int = 10
    entity_id: str | None = None
    # The furthest ahead a metadata validUntil may be (Verify published 14 days).
    metadata_max_validity_days: int = 14


@dataclass(frozen=True)
class SigningKeyConfig:
    jwk: dict[str, Any]
    signs: bool


UPSTREAM_KINDS = ("verify", "one_login", "openid_ida")
ONE_LOGIN_CLIENT_ALGS = ("RS256", "PS256")


@dataclass(frozen=True)
class OneLoginConfig:
    """The broker as one GOV.UK One Login client for every council (broker/one_login/)."""

    discovery_url: str
    client_id: str
    # Private RSA JWKs for private_key_jwt; the one with `signs` signs, all are published at
    # /onelogin/jwks.json for One Login to fetch (or to paste into its registration).
    signing_keys: tuple[SigningKeyConfig, ...]
    # The identity service that signs the core identity JWT (its `iss`), and its DID document.
    identity_issuer: str
    did_url: str
    client_assertion_alg: str = "RS256"
    scopes: tuple[str, ...] = ("openid",)
    refresh_seconds: int = 3600
    clock_skew_seconds: int = 30
    timeout_seconds: float = 5.0

    @property
    def signing_jwk(self) -> dict[str, Any]:
        return next(k.jwk for k in self.signing_keys if k.signs)


# OpenID Connect for Identity Assurance 1.0 (broker/openid_ida/): the choices its section allows.
OPENID_IDA_CLIENT_AUTH = ("private_key_jwt", "client_secret_basic")
OPENID_IDA_CLIENT_ALGS = ("RS256", "PS256", "ES256")
OPENID_IDA_CLAIMS = ("given_name", "middle_name", "family_name", "birth_family_name", "birthdate",
                     "address")
# The protocol-neutral failure kinds (broker.upstreams.interface.FailureKind values) a provider's
# own error codes may be mapped to.
FAILURE_KINDS = ("cancelled", "authentication-failed", "not-proven", "pending", "login-required",
                 "fraud", "unavailable", "rejected")


@dataclass(frozen=True)
class AssuranceRule:
    """One row of the operator's level mapping: `verified_claims` whose verification is under
    `trust_framework` (at `assurance_level`, when given; with evidence of one of the `evidence`
    types, when given) prove the resident at `level`. Nothing else proves anything."""

    trust_framework: str
    level: LevelOfAssurance
    assurance_level: str | None = None
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class OpenIdIdaConfig:
    """The broker as one client of an OpenID provider returning OpenID Connect for Identity
    Assurance 1.0 `verified_claims` (broker/openid_ida/)."""

    issuer: str
    client_id: str
    client_auth: str
    levels: tuple[AssuranceRule, ...]
    # private_key_jwt: private JWKs, one signing, all published at /openid-ida/jwks.json.
    signing_keys: tuple[SigningKeyConfig, ...] = ()
    client_assertion_alg: str = "RS256"
    client_secret: str = field(default="", repr=False)  # client_secret_basic
    scopes: tuple[str, ...] = ("openid",)
    verified_claims_in: str = "userinfo"  # or id_token: where `verified_claims` is requested
    claims: tuple[str, ...] = ("given_name", "family_name", "birthdate", "address")
    # The provider's own authorization error codes → a failure kind (FAILURE_KINDS).
    errors: tuple[tuple[str, str], ...] = ()
    refresh_seconds: int = 3600
    clock_skew_seconds: int = 30
    timeout_seconds: float = 5.0

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def signing_jwk(self) -> dict[str, Any]:
        return next(k.jwk for k in self.signing_keys if k.signs)


@dataclass(frozen=True)
class OidcConfig:
    signing_keys: tuple[SigningKeyConfig, ...]
    code_ttl_seconds: int
    access_token_ttl_seconds: int
    id_token_ttl_seconds: int
    flow_ttl_seconds: int
    session_idle_seconds: int = 1800
    session_absolute_seconds: int = 28800
    par_ttl_seconds: int = 60
    backchannel_logout_timeout_seconds: float = 3.0
    trust_framework: str = "uk_tfida"
    # How far away a private_key_jwt assertion's `exp` may be (its `jti` is kept until then).
    client_assertion_max_lifetime_seconds: int = 3600
    # How far a council app's clock may be from ours (its client assertions' exp, iat, nbf).
    clock_skew_seconds: int = 30

    @property
    def signing_jwk(self) -> dict[str, Any]:
        return next(k.jwk for k in self.signing_keys if k.signs)


DATASET_SCHEMAS = ("legacy", "universal")
ACCOUNT_CREATION_ATTRIBUTES = ("first_name", "middle_name", "surname", "date_of_birth",
                               "current_address", "address_history", "cycle_3")


@dataclass(frozen=True)
class Cycle3Config:
    """The one extra fact a council asks for on a no-match (Verify's cycle 3)."""

    attribute: str
    label: dict[str, str]
    hint: dict[str, str]
    pattern: str


@dataclass(frozen=True)
class MatchingConfig:
    """A council's local matching service, cycle 3, account creation and contact details."""

    service_url: str
    bearer_token: str | None
    timeout_seconds: float
    cycle3: Cycle3Config | None
    account_creation_url: str | None
    account_creation_attributes: tuple[str, ...]
    contact: dict[str, str]
    # Ask the resident before creating an account (GOV.UK Verify asked services to); the
    # council's own wording of the question, or None for the broker's.
    account_creation_consent: bool = True
    account_creation_consent_text: dict[str, str] | None = None
    # Which of Verify's JSON schemas the council's service was built to: "legacy" (the default,
    # the adapter's without European identities) or "universal".
    dataset_schema: str = "legacy"


@dataclass(frozen=True)
class DatabaseConfig:
    url: str
    auto_upgrade: bool


@dataclass(frozen=True)
class CouncilConfig:
    id: str
    name: str
    entity_id: str
    service_url: str | None
    matching: MatchingConfig | None = None  # None: `matching: none`, only verified claims
    # The second input of the hashed PID (Verify's matching service entity id or
    # hashingEntityId): a council that used Verify keeps its stored links and its subjects.
    hashing_entity_id: str = ""
    branding: Brand | None = None  # None only for configs built by hand: see `brand`
    # The identity service this council's residents prove themselves with (`verify`,
    # `one_login`); "" for the broker's own `upstream.kind` (broker.upstreams.registry).
    upstream: str = ""

    @property
    def pid_hashing_entity_id(self) -> str:
        return self.hashing_entity_id or self.entity_id

    @property
    def brand(self) -> Brand:
        return self.branding or Brand(key=f"councils/{self.id}", name=Text(self.name, self.name),
                                      url=self.service_url)


# Client authentication at /token and /par (OIDC Core 9); a client uses the one it is registered
# with. Discovery lists them all.
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    council: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str
    scopes: tuple[str, ...]
    default_level: LevelOfAssurance
    name: str
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    id_token_signed_response_alg: str = "ES256"
    require_pushed_authorization_requests: bool = False
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    allowed_claims: tuple[str, ...] | None = None
    # `default_level` is a floor that `acr_values` can raise but not lower, unless this is set.
    acr_values_may_lower_level: bool = False


@dataclass(frozen=True)
class RedisConfig:
    url: str
    key_prefix: str
    embedded_fallback: bool
    # Sentinel: the sentinels' host:port and the monitored service; `url` then gives only the
    # database number, credentials and TLS (redis:// or rediss://) for the master.
    sentinels: tuple[tuple[str, int], ...] = ()
    sentinel_service: str | None = None
    socket_timeout_seconds: float = 2.0


@dataclass(frozen=True)
class RateLimitRules:
    """Limits in the `limits` notation ("120/minute"; several separated by ";"); None: no limit."""

    per_ip: str | None
    per_client: str | None = None


RATE_LIMIT_DEFAULTS = {
    "authorize": RateLimitRules(per_ip="120/minute", per_client="3000/minute"),
    # A council app's server calls /token from few addresses: its per-IP limit is its client's.
    "token": RateLimitRules(per_ip="3000/minute", per_client="3000/minute"),
    "par": RateLimitRules(per_ip="3000/minute", per_client="3000/minute"),
    "acs": RateLimitRules(per_ip="120/minute"),  # no client before the flow is taken
    # Wrong client credentials at /token and /par, per address: tighter than any honest app needs.
    "client_authentication_failures": RateLimitRules(per_ip="20/minute"),
}
PER_IP_ONLY = {"acs": "the ACS is limited per IP only (its POST names no client)",
               "client_authentication_failures": "failures are counted per IP only (a failed "
                                                 "request has no authenticated client)"}


@dataclass(frozen=True)
class RateLimitConfig:
    """Rate limits on /authorize, /token, /par, the ACS and failed client authentication
    (broker/ratelimit.py)."""

    enabled: bool = True
    sections: tuple[tuple[str, RateLimitRules], ...] = tuple(RATE_LIMIT_DEFAULTS.items())
    # Each process settles its count of a limit with Redis every max(1, limit × this) hits (and
    # at least every second): 0 settles every hit (exact, one round trip per limit per request).
    # N processes may let through up to N × batch more than a limit (broker/ratelimit_storage.py).
    batch_fraction: float = 0.05

    def rules(self, section: str) -> RateLimitRules:
        return dict(self.sections)[section]


@dataclass(frozen=True)
class DataKeyConfig:
    """A data key that opens what Redis holds; the one with `encrypts` also seals (ADR 0010)."""

    key: DataKey
    encrypts: bool

    @property
    def id(self) -> str:
        return self.key.id


@dataclass(frozen=True)
class BrokerConfig:
    source: str
    mode: str
    issuer: str
    secret_key: str
    redis: RedisConfig
    # None only when One Login is the upstream and the file has no `saml:` / `hub:` section.
    saml: SamlConfig | None
    hub: HubConfig | None
    oidc: OidcConfig
    councils: dict[str, CouncilConfig]
    clients: dict[str, ClientConfig] = field(default_factory=dict)
    database: DatabaseConfig = DatabaseConfig("sqlite:///var/broker/links.sqlite3", False)
    rate_limits: RateLimitConfig = RateLimitConfig()
    # Proxies in front of the broker whose X-Forwarded-For is trusted (0: use the peer address).
    proxy_trusted_hops: int = 0
    # Seal personal data in Redis; empty only in development (a key for the process's lifetime).
    data_keys: tuple[DataKeyConfig, ...] = ()
    # The neutral brand of pages that belong to no council's journey.
    branding: Brand = field(default_factory=neutral_brand)
    # The national identity service residents prove themselves with: GOV.UK Verify's SAML hub
    # (`hub`, `saml`) or GOV.UK One Login (`one_login`).
    upstream: str = "verify"
    one_login: OneLoginConfig | None = None
    openid_ida: OpenIdIdaConfig | None = None

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def acs_url(self) -> str:
        return f"{self.issuer}/saml/acs"

    @property
    def one_login_redirect_uri(self) -> str:
        return f"{self.issuer}/onelogin/callback"

    def sealer(self) -> Sealer | None:
        """What seals and opens Redis values; None when no data key is configured."""
        if not self.data_keys:
            return None
        return Sealer(tuple(k.key for k in self.data_keys),
                      next(k.id for k in self.data_keys if k.encrypts))


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
    _refuse_unset_variables(source, raw, environ, overridden)
    raw = _interpolate(raw, environ)
    for env_name, dotted in ENV_OVERRIDES.items():
        if environ.get(env_name):
            _set_dotted(raw, dotted, environ[env_name])
    read = ReadKeys(source, raw)  # the keys the reader asks for are the known ones
    try:
        config = _Reader(source, Path(path).resolve().parent).broker(read.tree)
    except ConfigError as exc:
        raise read.explain(exc) from None
    read.refuse_unknown()
    return plain(config)


def unreadable(exc: Exception) -> str:
    """Why a file could not be read, in one line (no traceback, no errno prefix)."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror != "Permission denied" else \
            "permission denied (is it readable by the user the broker runs as?)"
    return str(exc)


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


def _refuse_unset_variables(source: str, node: Any, environ: Mapping[str, str],
                            overridden: set[str], key: str = "") -> None:
    """A ${NAME} with no default whose variable is unset names the variable, instead of letting
    an empty string fail a later, less telling check."""
    if isinstance(node, dict):
        for name, value in node.items():
            _refuse_unset_variables(source, value, environ, overridden,
                                    f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _refuse_unset_variables(source, value, environ, overridden, f"{key}[{index}]")
    elif isinstance(node, str) and key not in overridden:
        for match in _ENV_REFERENCE.finditer(node):
            if match.group(2) is None and not environ.get(match.group(1)):
                raise ConfigError(source, key, f"environment variable {match.group(1)} is not set "
                                               f"(write ${{{match.group(1)}:-}} if it may be empty)")


_ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def _interpolate(node: Any, environ: Mapping[str, str]) -> Any:
    """Expands ${NAME} and ${NAME:-default} in string values from the environment."""
    if isinstance(node, dict):
        return {key: _interpolate(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [_interpolate(value, environ) for value in node]
    if isinstance(node, str):
        return _ENV_REFERENCE.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), node)
    return node


def _set_dotted(raw: dict[str, Any], dotted: str, value: str) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


class _Reader:
    """Reads one config file; every accessor knows the dotted key it reads, for errors."""

    def __init__(self, source: str, base: Path):
        self.source, self.base = source, base

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.source, key, problem)

    def get(self, raw: Mapping[str, Any], key: str, prefix: str, kind: type | tuple = str,
            default: Any = ..., ) -> Any:
        dotted = f"{prefix}{key}"
        if not isinstance(raw, Mapping):
            raise self.fail(prefix.rstrip("."), "must be a mapping")
        getattr(raw, "mark_schema", lambda: None)()
        if key not in raw or raw[key] is None:
            if default is ...:
                raise self.fail(dotted, "is required")
            return default
        value = raw[key]
        if kind is int and isinstance(value, str) and value.isdigit():
            value = int(value)
        if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(dotted, f"must be {names}, got {type(value).__name__}")
        return value

    def url(self, raw: Mapping[str, Any], key: str, prefix: str, default: Any = ...) -> Any:
        value = self.get(raw, key, prefix, default=default)
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise self.fail(f"{prefix}{key}", f"must be an http(s) URL, got {value!r}")
        return value.rstrip("/") if key == "issuer" else value

    def path(self, raw: Mapping[str, Any], key: str, prefix: str) -> Path:
        path = self.base / Path(self.get(raw, key, prefix))
        if not path.is_file():
            raise self.fail(f"{prefix}{key}", f"file not found: {path}")
        return path

    def read(self, path: Path, dotted: str) -> str:
        """The file's text; a file the broker's user may not read (a key written 0600 by
        whoever ran `broker keys generate`) is a configuration error like any other."""
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise self.fail(dotted, f"cannot read {path}: {unreadable(exc)}") from None

    def private(self, path: Path, dotted: str) -> None:
        """In production a private key file may be read by the broker's user alone."""
        if self.mode == "production":
            problem = loose_permissions(path)
            if problem:
                raise self.fail(dotted, problem)

    def pem(self, raw: Mapping[str, Any], key: str, prefix: str, marker: str) -> str:
        path = self.path(raw, key, prefix)
        if marker == "PRIVATE KEY":
            self.private(path, f"{prefix}{key}")
        text = self.read(path, f"{prefix}{key}")
        if f"{marker}-----" not in text:
            raise self.fail(f"{prefix}{key}", f"{path} does not hold a PEM {marker.lower()}")
        return text

    def key_pair(self, raw: Mapping[str, Any], prefix: str) -> KeyPair:
        return KeyPair(key_pem=self.pem(raw, "key", prefix, "PRIVATE KEY"),
                       cert_pem=self.pem(raw, "cert", prefix, "CERTIFICATE"))

    def broker(self, raw: dict[str, Any]) -> BrokerConfig:
        mode = self.get(raw, "mode", "", default="development")
        if mode not in ("development", "production"):
            raise self.fail("mode", f"must be development or production, got {mode!r}")
        self.mode = mode
        issuer = self.url(raw, "issuer", "")
        secret_key = self.get(raw, "secret_key", "")
        if mode == "production" and len(secret_key) < 32:
            raise self.fail("secret_key", "must be at least 32 characters in production")
        if mode == "production" and secret_key in PUBLISHED_SECRET_KEYS:
            raise self.fail("secret_key", "is a value published in the broker's repository; "
                            "use a random value of your own (openssl rand -base64 48)")
        redis_raw = self.get(raw, "redis", "", dict, default={})
        embedded = self.get(redis_raw, "embedded_fallback", "redis.", bool, default=False)
        if embedded and mode == "production":
            raise self.fail("redis.embedded_fallback", "not allowed in production mode")
        redis_url = self.get(redis_raw, "url", "redis.", default="redis://127.0.0.1:6379/0")
        if urlparse(redis_url).scheme not in ("redis", "rediss", "unix"):
            raise self.fail("redis.url", "must be a redis://, rediss:// or unix:// URL")
        sentinel_raw = self.get(redis_raw, "sentinel", "redis.", dict, default={})
        sentinels = []
        for i, address in enumerate(self.get(sentinel_raw, "hosts", "redis.sentinel.", list,
                                             default=[])):
            host, _, port = str(address).rpartition(":")
            if not host or not port.isdigit():
                raise self.fail(f"redis.sentinel.hosts[{i}]", f"must be host:port, got {address!r}")
            sentinels.append((host, int(port)))
        service = self.get(sentinel_raw, "service_name", "redis.sentinel.", default=None)
        if bool(sentinels) != bool(service):
            raise self.fail("redis.sentinel", "needs both hosts and service_name")
        redis_config = RedisConfig(
            url=redis_url,
            key_prefix=self.get(redis_raw, "key_prefix", "redis.", default="broker:"),
            embedded_fallback=embedded,
            sentinels=tuple(sentinels), sentinel_service=service,
            socket_timeout_seconds=float(self.get(redis_raw, "socket_timeout_seconds", "redis.",
                                                  (int, float), default=2)),
        )
        self.mode = mode
        councils = self.councils(self.get(raw, "councils", "", dict))
        oidc = self.oidc(self.get(raw, "oidc", "", dict))
        self.signing_keys = oidc.signing_keys
        upstream = self.upstream(raw)
        # Verify's sections: required when the hub is anyone's upstream, optional otherwise.
        verify = "verify" in {upstream["upstream"], *(c.upstream for c in councils.values())}
        return BrokerConfig(
            source=self.source, mode=mode, issuer=issuer, secret_key=secret_key,
            redis=redis_config,
            saml=self.saml(self.get(raw, "saml", "", dict))
            if verify or raw.get("saml") is not None else None,
            hub=self.hub(self.get(raw, "hub", "", dict))
            if verify or raw.get("hub") is not None else None,
            oidc=oidc,
            councils=councils,
            clients=self.clients(self.get(raw, "clients", "", list), councils),
            database=self.database(self.get(raw, "database", "", dict, default={})),
            rate_limits=self.rate_limits(self.get(raw, "rate_limits", "", dict, default={})),
            proxy_trusted_hops=self.trusted_hops(self.get(raw, "proxy", "", dict, default={})),
            data_keys=self.data_keys(self.get(raw, "data_keys", "", list, default=[]), mode),
            branding=self.residents_links(raw, "", read_brand(
                raw.get("branding"), "branding.", key="deployment",
                default_name=neutral_brand().name, default_url=None, base=self.base,
                fail=self.fail)),
            **upstream,
        )

    def upstream(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        kind = self.get(self.get(raw, "upstream", "", dict, default={}), "kind", "upstream.",
                        default="verify")
        if kind not in UPSTREAM_KINDS:
            raise self.fail("upstream.kind", f"must be {', '.join(UPSTREAM_KINDS)}, got {kind!r}")
        councils = raw.get("councils") if isinstance(raw.get("councils"), dict) else {}
        named = {item.get("upstream") for item in councils.values() if isinstance(item, dict)}
        one_login = None
        if raw.get("one_login") is not None or "one_login" in {kind, *named}:
            one_login = self.one_login(self.get(raw, "one_login", "", dict))
        openid_ida = None
        if raw.get("openid_ida") is not None or "openid_ida" in {kind, *named}:
            openid_ida = self.openid_ida(self.get(raw, "openid_ida", "", dict))
        return {"upstream": kind, "one_login": one_login, "openid_ida": openid_ida}

    def private_jwk(self, item: Mapping[str, Any], key: str, prefix: str,
                    kinds: tuple[str, ...] = ("EC", "RSA")) -> dict[str, Any]:
        import json

        path = self.path(item, key, prefix)
        self.private(path, f"{prefix}{key}")
        try:
            jwk = json.loads(self.read(path, f"{prefix}{key}"))
        except ValueError as exc:
            raise self.fail(f"{prefix}{key}", f"{path} is not a JSON JWK: {exc}") from None
        if not isinstance(jwk, dict) or "d" not in jwk or jwk.get("kty") not in kinds:
            raise self.fail(f"{prefix}{key}", f"{path} is not a private {' or '.join(kinds)} JWK")
        return jwk

    def one_login(self, raw: Mapping[str, Any]) -> OneLoginConfig:
        p = "one_login."
        items = self.get(raw, "signing_keys", p, list)
        keys = tuple(SigningKeyConfig(self.private_jwk(item, "file", f"{p}signing_keys[{i}].",
                                                       ("RSA",)),
                                      self.get(item, "signs", f"{p}signing_keys[{i}].", bool,
                                               default=True))
                     for i, item in enumerate(items))
        if sum(k.signs for k in keys) != 1:
            raise self.fail(f"{p}signing_keys", "exactly one key must sign (the others: signs: false)")
        alg = self.get(raw, "client_assertion_alg", p, default="RS256")
        if alg not in ONE_LOGIN_CLIENT_ALGS:
            raise self.fail(f"{p}client_assertion_alg", "must be RS256 or PS256 (One Login's "
                            "token_endpoint_auth_signing_alg_values_supported)")
        for i, key in enumerate(keys):
            if key.jwk.get("alg") not in (None, alg):
                raise self.fail(f"{p}signing_keys[{i}].file", f"the JWK is for {key.jwk['alg']}, "
                                f"not client_assertion_alg {alg} (remove its `alg`)")
        scopes = tuple(self.get(raw, "scopes", p, list, default=["openid"]))
        if "openid" not in scopes:
            raise self.fail(f"{p}scopes", "must include openid")
        skew = self.get(raw, "clock_skew_seconds", p, int, default=30)
        if not 0 <= skew <= 300:
            raise self.fail(f"{p}clock_skew_seconds", "must be between 0 and 300")
        timeout = self.get(raw, "timeout_seconds", p, (int, float), default=5)
        if not 0 < timeout <= 30:
            raise self.fail(f"{p}timeout_seconds", "must be more than 0 and at most 30")
        return OneLoginConfig(
            discovery_url=self.url(raw, "discovery_url", p),
            client_id=self.get(raw, "client_id", p),
            signing_keys=keys,
            identity_issuer=self.url(raw, "identity_issuer", p),
            did_url=self.url(raw, "did_url", p),
            client_assertion_alg=alg,
            scopes=scopes,
            refresh_seconds=self.get(raw, "refresh_seconds", p, int, default=3600),
            clock_skew_seconds=skew,
            timeout_seconds=float(timeout),
        )

    def openid_ida(self, raw: Mapping[str, Any]) -> OpenIdIdaConfig:
        p = "openid_ida."
        client_auth = self.get(raw, "client_auth", p, default="private_key_jwt")
        if client_auth not in OPENID_IDA_CLIENT_AUTH:
            raise self.fail(f"{p}client_auth", f"must be {' or '.join(OPENID_IDA_CLIENT_AUTH)}, "
                            f"got {client_auth!r}")
        alg = self.get(raw, "client_assertion_alg", p, default="RS256")
        if alg not in OPENID_IDA_CLIENT_ALGS:
            raise self.fail(f"{p}client_assertion_alg", f"must be one of "
                            f"{', '.join(OPENID_IDA_CLIENT_ALGS)}, got {alg!r}")
        keys: tuple[SigningKeyConfig, ...] = ()
        secret = ""
        if client_auth == "private_key_jwt":
            kty = "EC" if alg == "ES256" else "RSA"
            items = self.get(raw, "signing_keys", p, list)
            keys = tuple(SigningKeyConfig(
                self.private_jwk(item, "file", f"{p}signing_keys[{i}].", (kty,)),
                self.get(item, "signs", f"{p}signing_keys[{i}].", bool, default=True))
                for i, item in enumerate(items))
            if sum(k.signs for k in keys) != 1:
                raise self.fail(f"{p}signing_keys",
                                "exactly one key must sign (the others: signs: false)")
        else:
            secret = str(self.get(raw, "client_secret", p))
            if len(secret) < 16:
                raise self.fail(f"{p}client_secret", "must be at least 16 characters (is its "
                                "environment variable set?)")
        scopes = tuple(self.get(raw, "scopes", p, list, default=["openid"]))
        if "openid" not in scopes:
            raise self.fail(f"{p}scopes", "must include openid")
        where = self.get(raw, "verified_claims_in", p, default="userinfo")
        if where not in ("userinfo", "id_token"):
            raise self.fail(f"{p}verified_claims_in", f"must be userinfo or id_token, got {where!r}")
        claims = tuple(self.get(raw, "claims", p, list,
                                default=["given_name", "family_name", "birthdate", "address"]))
        unknown = [c for c in claims if c not in OPENID_IDA_CLAIMS]
        if unknown or not claims:
            raise self.fail(f"{p}claims", f"must list claims from {', '.join(OPENID_IDA_CLAIMS)}"
                            + (f"; {unknown[0]!r} is not one" if unknown else ""))
        levels = []
        for i, item in enumerate(self.get(raw, "levels", p, list)):
            q = f"{p}levels[{i}]."
            try:
                level = LevelOfAssurance.from_name(self.get(item, "level", q))
            except ValueError:
                raise self.fail(f"{q}level", "must be LEVEL_1, LEVEL_2, LEVEL_3 or LEVEL_4") from None
            evidence = self.get(item, "evidence", q, list, default=[])
            if not all(isinstance(e, str) and e for e in evidence):
                raise self.fail(f"{q}evidence", "must be a list of evidence types (document, ...)")
            levels.append(AssuranceRule(self.get(item, "trust_framework", q), level,
                                        self.get(item, "assurance_level", q, default=None),
                                        tuple(evidence)))
        if not levels:
            raise self.fail(f"{p}levels", "must map at least one trust framework to a level")
        errors = self.get(raw, "errors", p, dict, default={})
        for code, kind in errors.items():
            if kind not in FAILURE_KINDS:
                raise self.fail(f"{p}errors.{code}", f"must be one of {', '.join(FAILURE_KINDS)}")
        skew = self.get(raw, "clock_skew_seconds", p, int, default=30)
        if not 0 <= skew <= 300:
            raise self.fail(f"{p}clock_skew_seconds", "must be between 0 and 300")
        timeout = self.get(raw, "timeout_seconds", p, (int, float), default=5)
        if not 0 < timeout <= 30:
            raise self.fail(f"{p}timeout_seconds", "must be more than 0 and at most 30")
        issuer = self.url(raw, "issuer", p)
        if self.mode == "production" and not issuer.startswith("https://"):
            raise self.fail(f"{p}issuer", "must be https in production")
        return OpenIdIdaConfig(
            issuer=issuer, client_id=self.get(raw, "client_id", p), client_auth=client_auth,
            levels=tuple(levels), signing_keys=keys, client_assertion_alg=alg,
            client_secret=secret, scopes=scopes, verified_claims_in=where, claims=claims,
            errors=tuple((str(code), kind) for code, kind in errors.items()),
            refresh_seconds=self.get(raw, "refresh_seconds", p, int, default=3600),
            clock_skew_seconds=skew, timeout_seconds=float(timeout),
        )

    def data_keys(self, raw: list[Any], mode: str) -> tuple[DataKeyConfig, ...]:
        """`- file: key.jwk.json` (a JWK of type oct with a kid), or `- id: … key: ${NAME}`
        (base64 of 32 bytes, from the environment); `encrypts: false` on all but one."""
        import json

        if not raw and mode == "production":
            raise self.fail("data_keys", "is required in production (it seals personal data in "
                            "Redis): `broker keys generate data` writes one")
        keys: list[DataKeyConfig] = []
        for i, item in enumerate(raw):
            prefix = f"data_keys[{i}]."
            if not isinstance(item, Mapping):
                raise self.fail(f"data_keys[{i}]", "must be a mapping with `file`, or `id` and `key`")
            try:
                if item.get("file") is not None:
                    if item.get("key") is not None:
                        raise self.fail(f"{prefix}key", "give either `file` or `key`, not both")
                    path = self.path(item, "file", prefix)
                    self.private(path, f"{prefix}file")
                    try:
                        jwk = json.loads(self.read(path, f"{prefix}file"))
                    except ValueError as exc:
                        raise self.fail(f"{prefix}file", f"{path} is not a JSON JWK: {exc}") from None
                    if not isinstance(jwk, dict):
                        raise self.fail(f"{prefix}file", f"{path} is not a JSON JWK")
                    key = DataKey.from_jwk(jwk)
                else:
                    secret = self.get(item, "key", prefix)
                    if not secret:
                        raise self.fail(f"{prefix}key", "is empty (is its environment variable set?)")
                    key_id = str(self.get(item, "id", prefix))
                    if not KEY_ID.match(key_id):
                        raise self.fail(f"{prefix}id", "must be 1-64 letters, digits, '.', '_' or '-'")
                    key = DataKey(key_id, decode_secret(secret))
            except ValueError as exc:
                raise self.fail(f"{prefix}{'file' if item.get('file') else 'key'}", str(exc)) from None
            keys.append(DataKeyConfig(key, self.get(item, "encrypts", prefix, bool, default=True)))
        ids = [k.id for k in keys]
        for i, key_id in enumerate(ids):
            if key_id in ids[:i]:
                raise self.fail(f"data_keys[{i}]", f"duplicate key id {key_id!r}")
        if keys and sum(k.encrypts for k in keys) != 1:
            raise self.fail("data_keys", "exactly one key must encrypt; mark the others "
                            "`encrypts: false`")
        return tuple(keys)

    def rate_limits(self, raw: Mapping[str, Any]) -> RateLimitConfig:
        from limits import parse_many

        sections = []
        for section, default in RATE_LIMIT_DEFAULTS.items():
            item = self.get(raw, section, "rate_limits.", dict, default={})
            rules = {}
            for scope in ("per_ip", "per_client"):
                value = self.get(item, scope, f"rate_limits.{section}.", (str, bool),
                                 default=getattr(default, scope))
                if scope == "per_client" and section in PER_IP_ONLY and value:
                    raise self.fail(f"rate_limits.{section}.per_client", PER_IP_ONLY[section])
                if value is False or value == "none":
                    value = None
                elif value is True:
                    raise self.fail(f"rate_limits.{section}.{scope}", "must be a limit or none")
                elif value is not None:
                    try:
                        parse_many(value)
                    except ValueError:
                        raise self.fail(f"rate_limits.{section}.{scope}",
                                        f"not a limit like 120/minute: {value!r}") from None
                rules[scope] = value
            sections.append((section, RateLimitRules(**rules)))
        unknown = set(raw) - set(RATE_LIMIT_DEFAULTS) - {"enabled", "batch_fraction"}
        if unknown:
            raise self.fail(f"rate_limits.{sorted(unknown)[0]}",
                            f"unknown section; use {', '.join(RATE_LIMIT_DEFAULTS)}, enabled "
                            "or batch_fraction")
        batch_fraction = self.get(raw, "batch_fraction", "rate_limits.", (int, float),
                                  default=RateLimitConfig.batch_fraction)
        if isinstance(batch_fraction, bool) or not 0 <= batch_fraction <= 0.5:
            raise self.fail("rate_limits.batch_fraction",
                            f"must be a number from 0 to 0.5, got {batch_fraction!r}")
        return RateLimitConfig(enabled=self.get(raw, "enabled", "rate_limits.", bool, default=True),
                               sections=tuple(sections), batch_fraction=float(batch_fraction))

    def trusted_hops(self, raw: Mapping[str, Any]) -> int:
        hops = self.get(raw, "trusted_hops", "proxy.", int, default=0)
        if not 0 <= hops <= 5:
            raise self.fail("proxy.trusted_hops", "must be between 0 and 5")
        return hops

    def database(self, raw: Mapping[str, Any]) -> DatabaseConfig:
        url = self.get(raw, "url", "database.", default="sqlite:///var/broker/links.sqlite3")
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise self.fail("database.url", "must be a sqlite: or postgresql: URL")
        return DatabaseConfig(url=url, auto_upgrade=self.get(raw, "auto_upgrade", "database.",
                                                             bool, default=False))

    def matching(self, raw: Any, prefix: str) -> MatchingConfig | None:
        if raw is None or raw == "none":
            return None
        if not isinstance(raw, Mapping):
            raise self.fail(prefix.rstrip("."), "must be `none` or a mapping")
        timeout = self.get(raw, "timeout_seconds", prefix, (int, float), default=5)
        if not 0 < timeout <= 60:
            raise self.fail(f"{prefix}timeout_seconds", "must be more than 0 and at most 60")
        cycle3 = None
        if raw.get("cycle3") is not None:
            c3 = self.get(raw, "cycle3", prefix, dict)
            p3 = f"{prefix}cycle3."
            texts = {}
            for key in ("label", "hint"):
                value = self.get(c3, key, p3, dict)
                if set(value) != {"en", "cy"} or not all(isinstance(v, str) and v for v in value.values()):
                    raise self.fail(f"{p3}{key}", "must give non-empty `en` and `cy` text")
                texts[key] = dict(value)
            pattern = self.get(c3, "pattern", p3)
            try:
                re.compile(pattern)
            except re.error as exc:
                raise self.fail(f"{p3}pattern", f"not a valid regular expression: {exc}") from None
            attribute = self.get(c3, "attribute", p3)
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", attribute):
                raise self.fail(f"{p3}attribute", "must be a name of letters, digits and _")
            cycle3 = Cycle3Config(attribute=attribute, label=texts["label"], hint=texts["hint"],
                                  pattern=pattern)
        creation = self.get(raw, "account_creation", prefix, dict, default={})
        attributes = tuple(self.get(creation, "attributes", f"{prefix}account_creation.", list,
                                    default=[]))
        for name in attributes:
            if name not in ACCOUNT_CREATION_ATTRIBUTES:
                raise self.fail(f"{prefix}account_creation.attributes",
                                f"unknown attribute {name!r}; use {', '.join(ACCOUNT_CREATION_ATTRIBUTES)}")
        dataset_schema = self.get(raw, "dataset_schema", prefix, default="legacy")
        if dataset_schema not in DATASET_SCHEMAS:
            raise self.fail(f"{prefix}dataset_schema",
                            f"must be one of {', '.join(DATASET_SCHEMAS)}, got {dataset_schema!r}")
        contact = self.get(raw, "contact", prefix, dict)
        if not contact or not all(isinstance(v, str) for v in contact.values()):
            raise self.fail(f"{prefix}contact", "must give the council's contact details as text")
        consent = self.get(creation, "consent", f"{prefix}account_creation.", (bool, dict),
                           default=True) if creation else True
        consent_text = None
        if isinstance(consent, dict):
            consent_text = self.get(consent, "text", f"{prefix}account_creation.consent.", dict,
                                    default=None)
            if consent_text is not None and (set(consent_text) != {"en", "cy"} or not all(
                    isinstance(v, str) and v.strip() for v in consent_text.values())):
                raise self.fail(f"{prefix}account_creation.consent.text",
                                "must give non-empty `en` and `cy` text")
            consent = self.get(consent, "ask", f"{prefix}account_creation.consent.", bool,
                               default=True)
        return MatchingConfig(
            service_url=self.url(raw, "service_url", prefix),
            bearer_token=self.get(raw, "bearer_token", prefix, default=None) or None,
            timeout_seconds=float(timeout),
            cycle3=cycle3,
            account_creation_url=self.url(creation, "url", f"{prefix}account_creation.",
                                          default=None) if creation else None,
            account_creation_attributes=attributes,
            contact={str(k): v for k, v in contact.items()},
            account_creation_consent=consent,
            account_creation_consent_text=dict(consent_text) if consent_text else None,
            dataset_schema=dataset_schema,
        )

    def saml(self, raw: Mapping[str, Any]) -> SamlConfig:
        encryption = self.get(raw, "encryption", "saml.", list)
        if not 1 <= len(encryption) <= 2:
            raise self.fail("saml.encryption", "must list one or two key pairs")
        skew = self.get(raw, "clock_skew_seconds", "saml.", int, default=30)
        if not 0 <= skew <= 300:
            raise self.fail("saml.clock_skew_seconds", "must be between 0 and 300")
        if raw.get("signing_next"):  # its private key is optional here; check-config matches it
            self.get(raw["signing_next"], "key", "saml.signing_next.", default=None)
        return SamlConfig(
            entity_id=self.get(raw, "entity_id", "saml."),
            signing=self.key_pair(self.get(raw, "signing", "saml.", dict), "saml.signing."),
            encryption=tuple(self.key_pair(item, f"saml.encryption[{i}].")
                             for i, item in enumerate(encryption)),
            clock_skew_seconds=skew,
            signing_next_cert_pem=self.pem(raw["signing_next"], "cert", "saml.signing_next.",
                                           "CERTIFICATE") if raw.get("signing_next") else None,
        )

    def hub(self, raw: Mapping[str, Any]) -> HubConfig:
        metadata_url = self.url(raw, "metadata_url", "hub.", default=None)
        metadata_file = self.path(raw, "metadata_file", "hub.") if raw.get("metadata_file") else None
        if (metadata_url is None) == (metadata_file is None):
            raise self.fail("hub.metadata_url", "set exactly one of metadata_url and metadata_file")
        if "trust_anchor" in raw:
            raise self.fail("hub.trust_anchor", "replaced by hub.truststores (metadata, hub, idp: "
                            "CA certificate bundles); see docs/operations.md")
        truststores = self.get(raw, "truststores", "hub.", dict)
        max_validity_days = self.get(raw, "metadata_max_validity_days", "hub.", int, default=14)
        if not 1 <= max_validity_days <= 366:
            raise self.fail("hub.metadata_max_validity_days", "must be between 1 and 366 days")
        return HubConfig(
            metadata_url=metadata_url, metadata_file=metadata_file,
            sso_url=self.url(raw, "sso_url", "hub."),
            metadata_truststore_pem=self.truststore(truststores, "metadata"),
            hub_truststore_pem=self.truststore(truststores, "hub"),
            idp_truststore_pem=self.truststore(truststores, "idp"),
            entity_id=self.get(raw, "entity_id", "hub.", default=None),
            refresh_seconds=self.get(raw, "refresh_seconds", "hub.", int, default=3600),
            local_copy_seconds=self.get(raw, "local_copy_seconds", "hub.", int, default=10),
            metadata_max_validity_days=max_validity_days,
        )

    def truststore(self, raw: Mapping[str, Any], key: str) -> str:
        from cryptography import x509

        pem = self.pem(raw, key, "hub.truststores.", "CERTIFICATE")
        try:
            x509.load_pem_x509_certificates(pem.encode())
        except ValueError as exc:
            raise self.fail(f"hub.truststores.{key}", f"not a PEM certificate bundle: {exc}") \
                from None
        return pem

    def oidc(self, raw: Mapping[str, Any]) -> OidcConfig:
        private_jwk = self.private_jwk

        if raw.get("signing_keys") is not None:
            if raw.get("signing_key") is not None:  # one of them would be silently ignored
                raise self.fail("oidc.signing_key", "give signing_keys or signing_key, not both")
            keys = tuple(SigningKeyConfig(private_jwk(item, "file", f"oidc.signing_keys[{i}]."),
                                          self.get(item, "signs", f"oidc.signing_keys[{i}].", bool,
                                                   default=True))
                         for i, item in enumerate(self.get(raw, "signing_keys", "oidc.", list)))
        else:
            keys = (SigningKeyConfig(private_jwk(raw, "signing_key", "oidc."), True),)
        if not any(k.signs and k.jwk["kty"] == "EC" for k in keys):
            raise self.fail("oidc.signing_keys", "needs an EC P-256 key that signs (ES256 is the default)")
        if self.mode == "production" and not any(k.signs and k.jwk["kty"] == "RSA" for k in keys):
            raise self.fail("oidc.signing_keys" if raw.get("signing_keys") is not None
                            else "oidc.signing_key",
                            "needs an RSA key that signs as well in production (discovery lists "
                            "RS256, the algorithm certified clients expect by default)")
        assertion_lifetime = self.get(raw, "client_assertion_max_lifetime_seconds", "oidc.", int,
                                      default=3600)
        if not 60 <= assertion_lifetime <= 86400:
            raise self.fail("oidc.client_assertion_max_lifetime_seconds",
                            "must be between 60 and 86400")
        skew = self.get(raw, "clock_skew_seconds", "oidc.", int, default=30)
        if not 0 <= skew <= 300:
            raise self.fail("oidc.clock_skew_seconds", "must be between 0 and 300")
        code_ttl = self.get(raw, "code_ttl_seconds", "oidc.", int, default=60)
        if not 1 <= code_ttl <= 60:
            raise self.fail("oidc.code_ttl_seconds", "must be between 1 and 60")
        return OidcConfig(
            signing_keys=keys,
            code_ttl_seconds=code_ttl,
            access_token_ttl_seconds=self.get(raw, "access_token_ttl_seconds", "oidc.", int,
                                              default=300),
            id_token_ttl_seconds=self.get(raw, "id_token_ttl_seconds", "oidc.", int, default=300),
            flow_ttl_seconds=self.get(raw, "flow_ttl_seconds", "oidc.", int, default=900),
            session_idle_seconds=self.get(raw, "session_idle_seconds", "oidc.", int, default=1800),
            session_absolute_seconds=self.get(raw, "session_absolute_seconds", "oidc.", int,
                                              default=28800),
            par_ttl_seconds=min(60, self.get(raw, "par_ttl_seconds", "oidc.", int, default=60)),
            backchannel_logout_timeout_seconds=float(self.get(
                raw, "backchannel_logout_timeout_seconds", "oidc.", (int, float), default=3)),
            trust_framework=self.get(raw, "trust_framework", "oidc.", default="uk_tfida"),
            client_assertion_max_lifetime_seconds=assertion_lifetime,
            clock_skew_seconds=skew,
        )

    def councils(self, raw: Mapping[str, Any]) -> dict[str, CouncilConfig]:
        councils = {}
        for council_id, item in raw.items():
            prefix = f"councils.{council_id}."
            name = self.get(item, "name", prefix)
            service_url = self.url(item, "service_url", prefix, default=None)
            councils[council_id] = CouncilConfig(
                id=council_id,
                name=name,
                entity_id=self.get(item, "entity_id", prefix),
                service_url=service_url,
                matching=self.matching(item.get("matching"), f"{prefix}matching."),
                hashing_entity_id=self.get(item, "hashing_entity_id", prefix, default=""),
                upstream=self.council_upstream(item, prefix),
                branding=self.residents_links(item, prefix, read_brand(
                    item.get("branding"), f"{prefix}branding.", key=f"councils/{council_id}",
                    default_name=Text(name, name), default_url=service_url, base=self.base,
                    fail=self.fail), matching_contact=item.get("matching")),
            )
        return councils

    def council_upstream(self, item: Mapping[str, Any], prefix: str) -> str:
        kind = self.get(item, "upstream", prefix, default="")
        if kind and kind not in UPSTREAM_KINDS:
            raise self.fail(f"{prefix}upstream",
                            f"must be one of {', '.join(UPSTREAM_KINDS)}, got {kind!r}")
        return kind

    def residents_links(self, raw: Mapping[str, Any], prefix: str, brand: Brand,
                        matching_contact: Any = None) -> Brand:
        """What every page of a council's residents must offer: its accessibility statement
        (Public Sector Bodies Accessibility Regulations 2018) and privacy notice (UK GDPR
        articles 13 and 14), required in production, and how to reach the council."""
        links = {}
        for key in ("accessibility_statement_url", "privacy_notice_url"):
            default = ... if self.mode == "production" and prefix else None
            links[key] = self.url(raw, key, prefix, default=default)
        contact = self.get(raw, "contact", prefix, dict, default=None)
        if contact is None and isinstance(matching_contact, Mapping):
            contact = matching_contact.get("contact")
        if contact is not None and (not contact or not all(
                isinstance(v, str) for v in contact.values())):
            raise self.fail(f"{prefix}contact", "must give the council's contact details as text")
        return replace(brand, contact=tuple((str(k), v) for k, v in (contact or {}).items()),
                       **links)

    def clients(self, raw: list[Any], councils: dict[str, CouncilConfig]
                ) -> dict[str, ClientConfig]:
        clients: dict[str, ClientConfig] = {}
        for i, item in enumerate(raw):
            prefix = f"clients[{i}]."
            client_id = self.get(item, "client_id", prefix)
            if client_id in clients:
                raise self.fail(f"{prefix}client_id", f"duplicate client_id {client_id!r}")
            council = self.get(item, "council", prefix)
            if council not in councils:
                raise self.fail(f"{prefix}council", f"unknown council {council!r}")
            method = self.get(item, "token_endpoint_auth_method", prefix,
                              default="client_secret_basic")
            if method not in AUTH_METHODS:
                raise self.fail(f"{prefix}token_endpoint_auth_method",
                                f"unsupported method {method!r}; use one of {', '.join(AUTH_METHODS)}")
            jwks = self.get(item, "jwks", prefix, dict, default=None)
            jwks_uri = self.url(item, "jwks_uri", prefix, default=None)
            secret = self.get(item, "client_secret", prefix, default=None)
            if method == "private_key_jwt" and (jwks is None) == (jwks_uri is None):
                raise self.fail(f"{prefix}jwks", "private_key_jwt needs exactly one of jwks and jwks_uri")
            if method in SECRET_AUTH_METHODS and not secret:
                raise self.fail(f"{prefix}client_secret", f"is required for {method}")
            if secret and self.mode == "production" and placeholder_secret(secret):
                raise self.fail(f"{prefix}client_secret", "is a placeholder or a value published "
                                "in the broker's repository; use a random value of your own "
                                "(openssl rand -base64 32), shared only with the council app")
            alg = self.get(item, "id_token_signed_response_alg", prefix, default="ES256")
            if alg not in ("ES256", "RS256"):
                raise self.fail(f"{prefix}id_token_signed_response_alg", "must be ES256 or RS256")
            if alg == "RS256" and not any(k.signs and k.jwk["kty"] == "RSA"
                                          for k in self.signing_keys):
                raise self.fail(f"{prefix}id_token_signed_response_alg",
                                "RS256 needs an RSA key that signs in oidc.signing_keys")
            logout_uris = self.get(item, "post_logout_redirect_uris", prefix, list, default=[])
            for j, uri in enumerate(logout_uris):
                self.url({"uri": uri}, "uri", f"{prefix}post_logout_redirect_uris[{j}].")
            allowed_claims = self.get(item, "claims", prefix, list, default=None)
            if allowed_claims is not None:
                for name in allowed_claims:
                    if name not in RELEASABLE_CLAIMS:
                        raise self.fail(f"{prefix}claims", f"unknown claim {name!r}; use "
                                                           f"{', '.join(RELEASABLE_CLAIMS)}")
            redirect_uris = self.get(item, "redirect_uris", prefix, list)
            if not redirect_uris:
                raise self.fail(f"{prefix}redirect_uris", "must list at least one URI")
            for j, uri in enumerate(redirect_uris):
                self.url({"uri": uri}, "uri", f"{prefix}redirect_uris[{j}].")
            level = self.get(item, "default_level", prefix, default="LEVEL_2")
            try:
                default_level = LevelOfAssurance.from_name(level)
            except ValueError as exc:
                raise self.fail(f"{prefix}default_level", str(exc)) from None
            clients[client_id] = ClientConfig(
                client_id=client_id, council=council,
                client_secret=secret,
                redirect_uris=tuple(redirect_uris),
                token_endpoint_auth_method=method,
                scopes=tuple(self.get(item, "scopes", prefix, list,
                                      default=["openid", "profile"])),
                default_level=default_level,
                name=self.get(item, "name", prefix, default=client_id),
                jwks=jwks, jwks_uri=jwks_uri, id_token_signed_response_alg=alg,
                require_pushed_authorization_requests=self.get(
                    item, "require_pushed_authorization_requests", prefix, bool, default=False),
                post_logout_redirect_uris=tuple(logout_uris),
                backchannel_logout_uri=self.url(item, "backchannel_logout_uri", prefix, default=None),
                allowed_claims=tuple(allowed_claims) if allowed_claims is not None else None,
                acr_values_may_lower_level=self.get(item, "acr_values_may_lower_level", prefix,
                                                    bool, default=False),
            )
        return clients
