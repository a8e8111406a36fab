"""`broker check-config`: everything the broker will need, checked before it is needed.

The schema is checked by broker.config.load_config (which stops at its first problem, since later
keys depend on earlier ones); beside that first problem, every file the configuration names that
is missing or unreadable is reported in the same run. Everything after that is checked in full,
so an operator sees every remaining problem at once: keys that do not fit their certificates,
certificates that have expired or soon will, redirect URIs that are not https, hub metadata that
does not verify, and the Redis and database the broker will use.
Each problem is one line: `file: key: problem`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from broker.config import (
    BrokerConfig,
    ConfigError,
    interpolate,
    load_config,
    loose_permissions,
    unreadable,
)
from broker.operations.certs import (
    certificate_info,
    expiry_problem,
    key_matches_certificate,
)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class Problem:
    key: str
    text: str
    severity: str = "error"  # or "warning": reported, but does not fail the check

    def line(self, source: str) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{source}: {self.key}: {prefix}{self.text}"


def check_keys_and_certificates(config: BrokerConfig, raw: dict[str, Any],
                                now: datetime) -> Iterator[Problem]:
    if config.saml is not None:
        yield from check_saml_keys(config, raw, now)
    if config.hub is not None:
        for name, pem in (("metadata", config.hub.metadata_truststore_pem),
                          ("hub", config.hub.hub_truststore_pem),
                          ("idp", config.hub.idp_truststore_pem)):
            yield from _certificate(f"hub.truststores.{name}", pem, now)
    yield from check_oidc_keys(config, raw)


def check_saml_keys(config: BrokerConfig, raw: dict[str, Any], now: datetime) -> Iterator[Problem]:
    saml = config.saml
    pairs = [("saml.signing", saml.signing.key_pem, saml.signing.cert_pem)]
    pairs += [(f"saml.encryption[{i}]", p.key_pem, p.cert_pem) for i, p in enumerate(saml.encryption)]
    for key, key_pem, cert_pem in pairs:
        yield from _certificate(f"{key}.cert", cert_pem, now)
        try:
            if not key_matches_certificate(key_pem, cert_pem):
                yield Problem(f"{key}.key", "private key does not match the certificate in "
                                            f"{key}.cert")
        except (ValueError, TypeError) as exc:
            yield Problem(f"{key}.key", f"cannot read the private key: {exc}")
    if saml.signing_next_cert_pem:
        yield from _certificate("saml.signing_next.cert", saml.signing_next_cert_pem, now)
        next_key = (raw.get("saml") or {}).get("signing_next") or {}
        if next_key.get("key"):
            path = Path(config.source).resolve().parent / next_key["key"]
            yield from _next_signing_key(path, saml.signing_next_cert_pem, config.production)


def _next_signing_key(path: Path, cert_pem: str, production: bool) -> Iterator[Problem]:
    if not path.is_file():
        yield Problem("saml.signing_next.key", f"file not found: {path}")
        return
    if production and loose_permissions(path):
        yield Problem("saml.signing_next.key", loose_permissions(path))
    try:
        key_pem = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        yield Problem("saml.signing_next.key", f"cannot read {path}: {unreadable(exc)}")
        return
    if not key_matches_certificate(key_pem, cert_pem):
        yield Problem("saml.signing_next.key",
                      "private key does not match the certificate in saml.signing_next.cert")


def check_oidc_keys(config: BrokerConfig, raw: dict[str, Any]) -> Iterator[Problem]:
    """Each JWK loads as the provider will load it (the schema only checks its shape)."""
    from broker.oidc.keys import SigningKeys

    for index, item in enumerate(config.oidc.signing_keys):
        try:
            SigningKeys((item,))
        except Exception as exc:  # noqa: BLE001 - joserfc raises several types for bad keys
            shorthand = (raw.get("oidc") or {}).get("signing_keys") is None
            key = "oidc.signing_key" if shorthand else f"oidc.signing_keys[{index}].file"
            yield Problem(key, f"the JWK does not load: {exc}")


def _certificate(key: str, pem: str, now: datetime) -> Iterator[Problem]:
    try:
        info = certificate_info(pem)
    except ValueError as exc:
        yield Problem(key, f"cannot read the certificate: {exc}")
        return
    problem = expiry_problem(info, now)
    if problem:
        yield Problem(key, problem[1], problem[0])


def check_production(config: BrokerConfig) -> Iterator[Problem]:
    """A production broker is only reached over TLS: its issuer is in every token and its ACS is
    where the hub posts residents' identities."""
    if config.production and urlparse(config.issuer).scheme != "https":
        yield Problem("issuer", f"must be https in production mode, got {config.issuer!r}")


def check_redirect_uris(config: BrokerConfig, raw: dict[str, Any]) -> Iterator[Problem]:
    """Codes travel in redirect URIs: anything but https leaks them, except on this machine."""
    for i, item in enumerate(raw.get("clients") or []):
        for field in ("redirect_uris", "post_logout_redirect_uris"):
            for j, uri in enumerate(item.get(field) or []):
                parsed = urlparse(uri)
                if parsed.scheme != "https" and parsed.hostname not in LOCAL_HOSTS:
                    yield Problem(f"clients[{i}].{field}[{j}]",
                                  f"must be https (http only for localhost and 127.0.0.1), got {uri!r}")


def check_upstreams(config: BrokerConfig, offline: bool, now: datetime) -> Iterator[Problem]:
    """Each configured upstream's own checks (hub metadata that verifies, One Login's documents);
    offline, only what needs no network."""
    from broker.upstreams.registry import build_upstreams

    for upstream in build_upstreams(config):
        for problem in upstream.configuration_problems(offline=offline, now=now):
            yield Problem(problem.key, problem.text, problem.severity)


def check_redis(config: BrokerConfig) -> Iterator[Problem]:
    import redis

    from broker.state import connect

    try:
        connect(config.redis, allow_embedded=False)  # as the broker connects (TLS, ACL, Sentinel)
    except (redis.RedisError, ValueError, OSError) as exc:
        severity = "warning" if config.redis.embedded_fallback and not config.production else "error"
        suffix = " (the demo will use its in-process store)" if severity == "warning" else ""
        yield Problem("redis.url", f"Redis not reachable at {_safe_url(config.redis.url)}: "
                                   f"{exc}{suffix}", severity)


def check_database(config: BrokerConfig) -> Iterator[Problem]:
    """The link store, only when some council matches (otherwise the broker never opens it)."""
    if not any(council.matching for council in config.councils.values()):
        return
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from broker.matching.database import MIGRATIONS, current_revision, make_engine

    try:
        engine = make_engine(config.database.url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        revision = current_revision(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means "not reachable"
        yield Problem("database.url", f"database not reachable at "
                                      f"{_safe_url(config.database.url)}: {_first_line(exc)}")
        return
    script = Config()
    script.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(script).get_current_head()
    if revision != head and not config.database.auto_upgrade:
        yield Problem("database.url", f"schema is at revision {revision or 'none'}, not {head}: "
                                      "run `broker db upgrade`")


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@", 1)
    return url


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# Every key whose value names a file the loader reads (dotted, with [N] for list items).
FILE_KEYS = re.compile(r"""(
    saml\.(signing|signing_next|encryption\[\d+\])\.(key|cert)
  | hub\.metadata_file | hub\.truststores\.(metadata|hub|idp)
  | oidc\.signing_key | (oidc|one_login)\.signing_keys\[\d+\]\.file
  | data_keys\[\d+\]\.file
  | (councils\.[^.]+\.)?branding\.logo
)""", re.VERBOSE)


class ConfigProblems(ConfigError):
    """The file cannot be loaded: the loader's first problem, and every file named in it that is
    missing or unreadable (the loader stops at its first problem; an operator fixing files one
    run at a time would need one run per file)."""

    def __init__(self, source: str, problems: list[Problem]):
        first = problems[0]
        super().__init__(source, first.key, first.text)
        self.problems = problems

    def lines(self) -> list[str]:
        return [problem.line(self.source) for problem in self.problems]


def file_problems(path: str | None, environ: dict[str, str]) -> list[Problem]:
    """Each file the configuration names that does not exist or cannot be read, all at once."""
    path = path or environ.get("BROKER_CONFIG")
    try:
        raw = read_raw(str(path), environ)
    except Exception:  # noqa: BLE001 - the loader reports an unreadable or broken file itself
        return []
    base = Path(path).resolve().parent
    problems = []
    for key, value in _leaves(raw):
        if not isinstance(value, str) or not value or not FILE_KEYS.fullmatch(key):
            continue
        file = base / value
        if not file.is_file():
            problems.append(Problem(key, f"file not found: {file}"))
            continue
        try:
            with open(file, "rb") as handle:
                handle.read(1)
        except OSError as exc:
            problems.append(Problem(key, f"cannot read {file}: {unreadable(exc)}"))
    return problems


def _leaves(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _leaves(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, f"{key}[{index}]")
    else:
        yield key, node


def run_checks(path: str | None, environ: dict[str, str] | None = None, offline: bool = False,
               now: datetime | None = None) -> tuple[str, list[Problem]]:
    """(source, problems); when the file cannot be loaded, the problems are the loader's first
    and every missing or unreadable file, since nothing after them is known."""
    try:
        _config, source, problems = loaded_and_checked(path, environ, offline, now)
    except ConfigProblems as exc:
        return exc.source, exc.problems
    except ConfigError as exc:
        return exc.source, [Problem(exc.key, exc.problem)]
    return source, problems


def startup_problems(path: str | None) -> tuple[BrokerConfig, str, list[Problem]]:
    """What `broker serve` checks before it starts (and again on SIGHUP): exactly
    `check-config --offline`, so a file check-config refuses never serves. Redis, the database
    and a hub metadata URL are dependencies that come and go: /readyz reports them."""
    return loaded_and_checked(path, offline=True)


def loaded_and_checked(path: str | None, environ: dict[str, str] | None = None,
                       offline: bool = False, now: datetime | None = None
                       ) -> tuple[BrokerConfig, str, list[Problem]]:
    """(config, source, problems); raises ConfigError for a schema problem."""
    import os

    environ = dict(os.environ) if environ is None else environ
    try:
        config = load_config(path, environ)
    except ConfigError as exc:
        files = file_problems(path, environ)
        first = Problem(exc.key, exc.problem)
        raise ConfigProblems(exc.source, [*files, first] if all(
            problem.key != exc.key for problem in files) else files) from None
    raw = read_raw(config.source, environ)
    now = now or datetime.now(UTC)
    checks: list[Callable[[], Iterator[Problem]]] = [
        lambda: check_production(config),
        lambda: check_keys_and_certificates(config, raw, now),
        lambda: check_redirect_uris(config, raw),
    ]
    checks.append(lambda: check_upstreams(config, offline, now))
    if not offline:
        checks += [lambda: check_redis(config), lambda: check_database(config)]
    problems = [problem for check in checks for problem in check()]
    return config, config.source, problems


def read_raw(source: str, environ: dict[str, str]) -> dict[str, Any]:
    with open(source, encoding="utf-8") as handle:
        return interpolate(yaml.safe_load(handle) or {}, environ)


def check_config(path: str | None, offline: bool = False) -> int:
    """Prints one line per problem on stderr; exit status 2 when any is an error, else 0."""
    source, problems = run_checks(path, offline=offline)
    for problem in problems:
        print(problem.line(source), file=sys.stderr)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        return 2
    warnings = len(problems) - len(errors)
    skipped = " (offline: Redis, database and hub metadata URL not checked)" if offline else ""
    print(f"{source}: ok{f' with {warnings} warning(s)' if warnings else ''}{skipped}")
    return 0
