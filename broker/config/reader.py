"""The shared machinery of every section's reader: a key's value of the right type, a URL,
a file, a PEM or a private JWK, each failing with one line that names the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from broker.config.model import KeyPair
from broker.config.production import loose_permissions
from broker.errors import ConfigError


class Reader:
    """Reads one config file; every accessor knows the dotted key it reads, for errors."""

    def __init__(self, source: str, base: Path, mode: str = "development"):
        self.source, self.base, self.mode = source, base, mode

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


def unreadable(exc: Exception) -> str:
    """Why a file could not be read, in one line (no traceback, no errno prefix)."""
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror != "Permission denied" else \
            "permission denied (is it readable by the user the broker runs as?)"
    return str(exc)
