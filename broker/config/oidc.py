"""The broker as an OpenID Connect provider: `oidc` (its keys and lifetimes) and `clients` (the
council apps registered with it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.claims_catalogue import RELEASABLE_CLAIMS
from broker.config.model import (
    AUTH_METHODS,
    SECRET_AUTH_METHODS,
    ClientConfig,
    CouncilConfig,
    OidcConfig,
    SigningKeyConfig,
)
from broker.config.production import placeholder_secret
from broker.config.reader import Reader
from broker.identity import LevelOfAssurance


def read_oidc(file: Reader, raw: Mapping[str, Any]) -> OidcConfig:
    private_jwk = file.private_jwk

    if raw.get("signing_keys") is not None:
        if raw.get("signing_key") is not None:  # one of them would be silently ignored
            raise file.fail("oidc.signing_key", "give signing_keys or signing_key, not both")
        keys = tuple(SigningKeyConfig(private_jwk(item, "file", f"oidc.signing_keys[{i}]."),
                                      file.get(item, "signs", f"oidc.signing_keys[{i}].", bool,
                                               default=True))
                     for i, item in enumerate(file.get(raw, "signing_keys", "oidc.", list)))
    else:
        keys = (SigningKeyConfig(private_jwk(raw, "signing_key", "oidc."), True),)
    if not any(k.signs and k.jwk["kty"] == "EC" for k in keys):
        raise file.fail("oidc.signing_keys", "needs an EC P-256 key that signs (ES256 is the default)")
    if file.mode == "production" and not any(k.signs and k.jwk["kty"] == "RSA" for k in keys):
        raise file.fail("oidc.signing_keys" if raw.get("signing_keys") is not None
                        else "oidc.signing_key",
                        "needs an RSA key that signs as well in production (discovery lists "
                        "RS256, the algorithm certified clients expect by default)")
    assertion_lifetime = file.get(raw, "client_assertion_max_lifetime_seconds", "oidc.", int,
                                  default=3600)
    if not 60 <= assertion_lifetime <= 86400:
        raise file.fail("oidc.client_assertion_max_lifetime_seconds",
                        "must be between 60 and 86400")
    skew = file.get(raw, "clock_skew_seconds", "oidc.", int, default=30)
    if not 0 <= skew <= 300:
        raise file.fail("oidc.clock_skew_seconds", "must be between 0 and 300")
    code_ttl = file.get(raw, "code_ttl_seconds", "oidc.", int, default=60)
    if not 1 <= code_ttl <= 60:
        raise file.fail("oidc.code_ttl_seconds", "must be between 1 and 60")
    return OidcConfig(
        signing_keys=keys,
        code_ttl_seconds=code_ttl,
        access_token_ttl_seconds=file.get(raw, "access_token_ttl_seconds", "oidc.", int,
                                          default=300),
        id_token_ttl_seconds=file.get(raw, "id_token_ttl_seconds", "oidc.", int, default=300),
        flow_ttl_seconds=file.get(raw, "flow_ttl_seconds", "oidc.", int, default=900),
        session_idle_seconds=file.get(raw, "session_idle_seconds", "oidc.", int, default=1800),
        session_absolute_seconds=file.get(raw, "session_absolute_seconds", "oidc.", int,
                                          default=28800),
        par_ttl_seconds=min(60, file.get(raw, "par_ttl_seconds", "oidc.", int, default=60)),
        backchannel_logout_timeout_seconds=float(file.get(
            raw, "backchannel_logout_timeout_seconds", "oidc.", (int, float), default=3)),
        trust_framework=file.get(raw, "trust_framework", "oidc.", default="uk_tfida"),
        client_assertion_max_lifetime_seconds=assertion_lifetime,
        clock_skew_seconds=skew,
    )


def read_clients(file: Reader, raw: list[Any], councils: dict[str, CouncilConfig],
                 signing_keys: tuple[SigningKeyConfig, ...]) -> dict[str, ClientConfig]:
    clients: dict[str, ClientConfig] = {}
    for i, item in enumerate(raw):
        prefix = f"clients[{i}]."
        client_id = file.get(item, "client_id", prefix)
        if client_id in clients:
            raise file.fail(f"{prefix}client_id", f"duplicate client_id {client_id!r}")
        council = file.get(item, "council", prefix)
        if council not in councils:
            raise file.fail(f"{prefix}council", f"unknown council {council!r}")
        method = file.get(item, "token_endpoint_auth_method", prefix,
                          default="client_secret_basic")
        if method not in AUTH_METHODS:
            raise file.fail(f"{prefix}token_endpoint_auth_method",
                            f"unsupported method {method!r}; use one of {', '.join(AUTH_METHODS)}")
        jwks = file.get(item, "jwks", prefix, dict, default=None)
        jwks_uri = file.url(item, "jwks_uri", prefix, default=None)
        secret = file.get(item, "client_secret", prefix, default=None)
        if method == "private_key_jwt" and (jwks is None) == (jwks_uri is None):
            raise file.fail(f"{prefix}jwks", "private_key_jwt needs exactly one of jwks and jwks_uri")
        if method in SECRET_AUTH_METHODS and not secret:
            raise file.fail(f"{prefix}client_secret", f"is required for {method}")
        if secret and file.mode == "production" and placeholder_secret(secret):
            raise file.fail(f"{prefix}client_secret", "is a placeholder or a value published "
                            "in the broker's repository; use a random value of your own "
                            "(openssl rand -base64 32), shared only with the council app")
        alg = file.get(item, "id_token_signed_response_alg", prefix, default="ES256")
        if alg not in ("ES256", "RS256"):
            raise file.fail(f"{prefix}id_token_signed_response_alg", "must be ES256 or RS256")
        if alg == "RS256" and not any(k.signs and k.jwk["kty"] == "RSA"
                                      for k in signing_keys):
            raise file.fail(f"{prefix}id_token_signed_response_alg",
                            "RS256 needs an RSA key that signs in oidc.signing_keys")
        logout_uris = file.get(item, "post_logout_redirect_uris", prefix, list, default=[])
        for j, uri in enumerate(logout_uris):
            file.url({"uri": uri}, "uri", f"{prefix}post_logout_redirect_uris[{j}].")
        allowed_claims = file.get(item, "claims", prefix, list, default=None)
        if allowed_claims is not None:
            for name in allowed_claims:
                if name not in RELEASABLE_CLAIMS:
                    raise file.fail(f"{prefix}claims", f"unknown claim {name!r}; use "
                                                       f"{', '.join(RELEASABLE_CLAIMS)}")
        redirect_uris = file.get(item, "redirect_uris", prefix, list)
        if not redirect_uris:
            raise file.fail(f"{prefix}redirect_uris", "must list at least one URI")
        for j, uri in enumerate(redirect_uris):
            file.url({"uri": uri}, "uri", f"{prefix}redirect_uris[{j}].")
        level = file.get(item, "default_level", prefix, default="LEVEL_2")
        try:
            default_level = LevelOfAssurance.from_name(level)
        except ValueError as exc:
            raise file.fail(f"{prefix}default_level", str(exc)) from None
        clients[client_id] = ClientConfig(
            client_id=client_id, council=council,
            client_secret=secret,
            redirect_uris=tuple(redirect_uris),
            token_endpoint_auth_method=method,
            scopes=tuple(file.get(item, "scopes", prefix, list,
                                  default=["openid", "profile"])),
            default_level=default_level,
            name=file.get(item, "name", prefix, default=client_id),
            jwks=jwks, jwks_uri=jwks_uri, id_token_signed_response_alg=alg,
            require_pushed_authorization_requests=file.get(
                item, "require_pushed_authorization_requests", prefix, bool, default=False),
            post_logout_redirect_uris=tuple(logout_uris),
            backchannel_logout_uri=file.url(item, "backchannel_logout_uri", prefix, default=None),
            allowed_claims=tuple(allowed_claims) if allowed_claims is not None else None,
            acr_values_may_lower_level=file.get(item, "acr_values_may_lower_level", prefix,
                                                bool, default=False),
        )
    return clients
