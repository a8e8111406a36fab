"""The xmlsec keys the hub side uses, each parsed once per thread and kept for the next message.

Parsing a key from PEM costs more than the RSA operation it is used for, and OpenSSL sets up a
private key's blinding and Montgomery values on its first use: a key object kept for the life of
the thread pays both once. xmlsec keys and contexts are not shared across threads. The keys are
our own (signing, decryption) or come from verified federation metadata; a reload or a metadata
refresh brings new PEM strings, so each cache is bounded instead of invalidated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization

MAX_KEYS_PER_THREAD = 64
_local = threading.local()


def _kept(kind: str, identity: Hashable, load: Callable[[], xmlsec.Key]) -> xmlsec.Key:
    keys = _local.__dict__.setdefault(kind, {})
    key = keys.get(identity)
    if key is None:
        if len(keys) >= MAX_KEYS_PER_THREAD:
            keys.clear()
        key = keys[identity] = load()
    return key


def decryption_key(key_pem: str | bytes) -> xmlsec.Key:
    """Our private key for unwrapping the AES keys of encrypted assertions."""
    return _kept("decryption", key_pem,
                 lambda: xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM, None))


def signing_key(key_pem: str, cert_pem: str) -> xmlsec.Key:
    """Our private key for signing AuthnRequests, carrying `cert_pem` for KeyInfo."""
    def load() -> xmlsec.Key:
        key = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM, None)
        key.load_cert_from_memory(cert_pem, xmlsec.KeyFormat.PEM)
        return key

    return _kept("signing", (key_pem, cert_pem), load)


def verification_key(cert_pem: str) -> xmlsec.Key:
    """The public key of a certificate, for verifying signatures.

    The key alone, without the certificate: xmlsec copies a key into every signature context,
    and a key loaded from a certificate carries the certificate, which it copies by DER
    re-decoding, a quarter of a verification. The certificate itself has already been checked
    against its truststore (broker.hub.trust)."""
    def load() -> xmlsec.Key:
        public_key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
        spki = public_key.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        return xmlsec.Key.from_memory(spki, xmlsec.KeyFormat.PEM, None)

    return _kept("verification", cert_pem, load)
