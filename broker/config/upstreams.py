"""The identity upstreams' sections: `upstream.kind`, `one_login` and `openid_ida`, each read
only when some council (or the default) uses it, or when it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.config.model import (
    FAILURE_KINDS,
    ONE_LOGIN_CLIENT_ALGS,
    OPENID_IDA_CLAIMS,
    OPENID_IDA_CLIENT_ALGS,
    OPENID_IDA_CLIENT_AUTH,
    UPSTREAM_KINDS,
    AssuranceRule,
    OneLoginConfig,
    OpenIdIdaConfig,
    SigningKeyConfig,
)
from broker.config.reader import Reader
from broker.identity import LevelOfAssurance


def read_upstream(file: Reader, raw: Mapping[str, Any]) -> dict[str, Any]:
    kind = file.get(file.get(raw, "upstream", "", dict, default={}), "kind", "upstream.",
                    default="verify")
    if kind not in UPSTREAM_KINDS:
        raise file.fail("upstream.kind", f"must be {', '.join(UPSTREAM_KINDS)}, got {kind!r}")
    councils = raw.get("councils") if isinstance(raw.get("councils"), dict) else {}
    named = {item.get("upstream") for item in councils.values() if isinstance(item, dict)}
    one_login = None
    if raw.get("one_login") is not None or "one_login" in {kind, *named}:
        one_login = read_one_login(file, file.get(raw, "one_login", "", dict))
    openid_ida = None
    if raw.get("openid_ida") is not None or "openid_ida" in {kind, *named}:
        openid_ida = read_openid_ida(file, file.get(raw, "openid_ida", "", dict))
    return {"upstream": kind, "one_login": one_login, "openid_ida": openid_ida}


def read_provider_timing(file: Reader, raw: Mapping[str, Any], p: str) -> tuple[int, float]:
    """The clock skew and HTTP timeout every OpenID-style upstream section has, with one bound."""
    skew = file.get(raw, "clock_skew_seconds", p, int, default=30)
    if not 0 <= skew <= 300:
        raise file.fail(f"{p}clock_skew_seconds", "must be between 0 and 300")
    timeout = file.get(raw, "timeout_seconds", p, (int, float), default=5)
    if not 0 < timeout <= 30:
        raise file.fail(f"{p}timeout_seconds", "must be more than 0 and at most 30")
    return skew, float(timeout)


def read_one_login(file: Reader, raw: Mapping[str, Any]) -> OneLoginConfig:
    p = "one_login."
    items = file.get(raw, "signing_keys", p, list)
    keys = tuple(SigningKeyConfig(file.private_jwk(item, "file", f"{p}signing_keys[{i}].",
                                                   ("RSA",)),
                                  file.get(item, "signs", f"{p}signing_keys[{i}].", bool,
                                           default=True))
                 for i, item in enumerate(items))
    if sum(k.signs for k in keys) != 1:
        raise file.fail(f"{p}signing_keys", "exactly one key must sign (the others: signs: false)")
    alg = file.get(raw, "client_assertion_alg", p, default="RS256")
    if alg not in ONE_LOGIN_CLIENT_ALGS:
        raise file.fail(f"{p}client_assertion_alg", "must be RS256 or PS256 (One Login's "
                        "token_endpoint_auth_signing_alg_values_supported)")
    for i, key in enumerate(keys):
        if key.jwk.get("alg") not in (None, alg):
            raise file.fail(f"{p}signing_keys[{i}].file", f"the JWK is for {key.jwk['alg']}, "
                            f"not client_assertion_alg {alg} (remove its `alg`)")
    scopes = tuple(file.get(raw, "scopes", p, list, default=["openid"]))
    if "openid" not in scopes:
        raise file.fail(f"{p}scopes", "must include openid")
    skew, timeout = read_provider_timing(file, raw, p)
    return OneLoginConfig(
        discovery_url=file.url(raw, "discovery_url", p),
        client_id=file.get(raw, "client_id", p),
        signing_keys=keys,
        identity_issuer=file.url(raw, "identity_issuer", p),
        did_url=file.url(raw, "did_url", p),
        client_assertion_alg=alg,
        scopes=scopes,
        refresh_seconds=file.get(raw, "refresh_seconds", p, int, default=3600),
        clock_skew_seconds=skew,
        timeout_seconds=float(timeout),
    )


def read_openid_ida(file: Reader, raw: Mapping[str, Any]) -> OpenIdIdaConfig:
    p = "openid_ida."
    client_auth = file.get(raw, "client_auth", p, default="private_key_jwt")
    if client_auth not in OPENID_IDA_CLIENT_AUTH:
        raise file.fail(f"{p}client_auth", f"must be {' or '.join(OPENID_IDA_CLIENT_AUTH)}, "
                        f"got {client_auth!r}")
    alg = file.get(raw, "client_assertion_alg", p, default="RS256")
    if alg not in OPENID_IDA_CLIENT_ALGS:
        raise file.fail(f"{p}client_assertion_alg", f"must be one of "
                        f"{', '.join(OPENID_IDA_CLIENT_ALGS)}, got {alg!r}")
    keys: tuple[SigningKeyConfig, ...] = ()
    secret = ""
    if client_auth == "private_key_jwt":
        kty = "EC" if alg == "ES256" else "RSA"
        items = file.get(raw, "signing_keys", p, list)
        keys = tuple(SigningKeyConfig(
            file.private_jwk(item, "file", f"{p}signing_keys[{i}].", (kty,)),
            file.get(item, "signs", f"{p}signing_keys[{i}].", bool, default=True))
            for i, item in enumerate(items))
        if sum(k.signs for k in keys) != 1:
            raise file.fail(f"{p}signing_keys",
                            "exactly one key must sign (the others: signs: false)")
    else:
        secret = str(file.get(raw, "client_secret", p))
        if len(secret) < 16:
            raise file.fail(f"{p}client_secret", "must be at least 16 characters (is its "
                            "environment variable set?)")
    scopes = tuple(file.get(raw, "scopes", p, list, default=["openid"]))
    if "openid" not in scopes:
        raise file.fail(f"{p}scopes", "must include openid")
    where = file.get(raw, "verified_claims_in", p, default="userinfo")
    if where not in ("userinfo", "id_token"):
        raise file.fail(f"{p}verified_claims_in", f"must be userinfo or id_token, got {where!r}")
    claims = tuple(file.get(raw, "claims", p, list,
                            default=["given_name", "family_name", "birthdate", "address"]))
    unknown = [c for c in claims if c not in OPENID_IDA_CLAIMS]
    if unknown or not claims:
        raise file.fail(f"{p}claims", f"must list claims from {', '.join(OPENID_IDA_CLAIMS)}"
                        + (f"; {unknown[0]!r} is not one" if unknown else ""))
    levels = []
    for i, item in enumerate(file.get(raw, "levels", p, list)):
        q = f"{p}levels[{i}]."
        try:
            level = LevelOfAssurance.from_name(file.get(item, "level", q))
        except ValueError:
            raise file.fail(f"{q}level", "must be LEVEL_1, LEVEL_2, LEVEL_3 or LEVEL_4") from None
        evidence = file.get(item, "evidence", q, list, default=[])
        if not all(isinstance(e, str) and e for e in evidence):
            raise file.fail(f"{q}evidence", "must be a list of evidence types (document, ...)")
        levels.append(AssuranceRule(file.get(item, "trust_framework", q), level,
                                    file.get(item, "assurance_level", q, default=None),
                                    tuple(evidence)))
    if not levels:
        raise file.fail(f"{p}levels", "must map at least one trust framework to a level")
    errors = file.get(raw, "errors", p, dict, default={})
    for code, kind in errors.items():
        if kind not in FAILURE_KINDS:
            raise file.fail(f"{p}errors.{code}", f"must be one of {', '.join(FAILURE_KINDS)}")
    skew, timeout = read_provider_timing(file, raw, p)
    issuer = file.url(raw, "issuer", p)
    if file.mode == "production" and not issuer.startswith("https://"):
        raise file.fail(f"{p}issuer", "must be https in production")
    return OpenIdIdaConfig(
        issuer=issuer, client_id=file.get(raw, "client_id", p), client_auth=client_auth,
        levels=tuple(levels), signing_keys=keys, client_assertion_alg=alg,
        client_secret=secret, scopes=scopes, verified_claims_in=where, claims=claims,
        errors=tuple((str(code), kind) for code, kind in errors.items()),
        refresh_seconds=file.get(raw, "refresh_seconds", p, int, default=3600),
        clock_skew_seconds=skew, timeout_seconds=float(timeout),
    )
