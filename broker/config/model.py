"""The typed configuration: one frozen dataclass per section, and the values each section may take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from broker.config.branding import Brand, Text, neutral_brand
from broker.identity import LevelOfAssurance
from broker.sealing import DataKey, Sealer


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
