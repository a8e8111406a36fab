"""Sealing: authenticated encryption of what the broker keeps in Redis (ADR 0010).

A verified identity, a Matching Dataset, a PID, a cycle 3 answer or the claims waiting for
`/token` and `/userinfo` must not be readable by whoever can read Redis, its replicas, its RDB
and AOF files or their backups. Every such value is sealed with AES-256-GCM (`cryptography`'s
AESGCM; nothing hand-written) under a data key from configuration:

    b"sealed:v1:" + key id + b":" + 12-byte random nonce + ciphertext and 16-byte tag

The associated data is that header and the Redis key name, so a value copied or renamed to
another key, or under another key id, fails authentication. One key seals; every configured key
opens, so a rotation never loses an in-flight sign-in (`broker keys generate|rotate|retire
data`). A value that cannot be opened (unknown key id, tampered, moved, or never sealed) is
refused: the caller sees it as absent, which every step already answers with "start again" for
a resident or a standard OAuth error for a council app.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

HEADER = b"sealed:v1:"
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class SealedValueRefused(Exception):
    """Why a stored value could not be opened; it is then treated as absent."""


@dataclass(frozen=True)
class DataKey:
    """An AES-256 key with the id written beside every value it seals."""

    id: str
    secret: bytes

    def __post_init__(self) -> None:
        if not KEY_ID.match(self.id):
            raise ValueError("a data key id is 1-64 letters, digits, '.', '_' or '-'")
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes (AES-256)")

    def __repr__(self) -> str:  # never the secret, in a traceback or a log line
        return f"DataKey(id={self.id!r})"

    @classmethod
    def generate(cls, key_id: str | None = None) -> DataKey:
        return cls(key_id or new_key_id(), AESGCM.generate_key(bit_length=KEY_BYTES * 8))

    @classmethod
    def from_jwk(cls, jwk: dict) -> DataKey:
        """A JWK of type `oct` (RFC 7518 6.4) with a `kid`: the file form of a data key."""
        if jwk.get("kty") != "oct" or not isinstance(jwk.get("k"), str) or not jwk.get("kid"):
            raise ValueError("not a data key: a JWK with kty oct, k and kid is expected")
        return cls(str(jwk["kid"]), decode_secret(jwk["k"]))

    def to_jwk(self) -> dict[str, str]:
        return {"kty": "oct", "kid": self.id, "alg": "A256GCM", "use": "enc",
                "k": base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode()}


def new_key_id(now: datetime | None = None) -> str:
    """Sortable and unique enough to tell keys apart in `broker keys list`."""
    return f"data-{(now or datetime.now(UTC)):%Y%m%d}-{secrets.token_hex(3)}"


def decode_secret(text: str) -> bytes:
    """Base64 (URL-safe or standard, padded or not) of the 32 key bytes."""
    text = text.strip()
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                                validate=True)
    except ValueError:
        raise ValueError("a data key must be base64 of 32 random bytes") from None


class Sealer:
    """Seals with one data key and opens with any configured one."""

    def __init__(self, keys: tuple[DataKey, ...] | list[DataKey], sealing_key_id: str):
        keys = tuple(keys)
        if len({key.id for key in keys}) != len(keys):
            raise ValueError("data key ids must be unique")
        self._ciphers = {key.id.encode(): AESGCM(key.secret) for key in keys}
        if sealing_key_id.encode() not in self._ciphers:
            raise ValueError(f"no data key {sealing_key_id!r} to seal with")
        self.sealing_key_id = sealing_key_id
        self._header = HEADER + sealing_key_id.encode() + b":"
        self._sealing_cipher = self._ciphers[sealing_key_id.encode()]

    @classmethod
    def ephemeral(cls) -> Sealer:
        """Development without `data_keys`: a key that lives as long as this process."""
        key = DataKey.generate("ephemeral")
        return cls((key,), key.id)

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id.decode() for key_id in self._ciphers)

    def seal(self, name: str, plaintext: bytes) -> bytes:
        """`plaintext` sealed for the Redis key `name` and no other."""
        nonce = os.urandom(NONCE_BYTES)
        header = self._header
        return header + nonce + self._sealing_cipher.encrypt(nonce, plaintext,
                                                             header + name.encode())

    def open(self, name: str, sealed: bytes) -> bytes:
        """The plaintext sealed for `name`; SealedValueRefused for anything else."""
        if not sealed.startswith(HEADER):
            raise SealedValueRefused("not sealed")
        key_id, colon, rest = sealed[len(HEADER):].partition(b":")
        cipher = self._ciphers.get(key_id) if colon else None
        if cipher is None:
            raise SealedValueRefused("sealed with a data key that is not configured")
        if len(rest) < NONCE_BYTES + 16:
            raise SealedValueRefused("truncated")
        header = sealed[:len(HEADER) + len(key_id) + 1]
        try:
            return cipher.decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], header + name.encode())
        except InvalidTag:
            raise SealedValueRefused("failed authentication (tampered, or moved from another "
                                     "key)") from None
