"""Our decryption keys, parsed once per key and thread, kept for the next assertion.

Parsing a private key from PEM costs more than the RSA decryption it is used for, and OpenSSL
sets up a key's blinding and Montgomery values on its first use: a key object kept for the life
of the thread does both once. It only holds our own key, which does not change while the
process runs (a reload builds new configuration, and so new PEM strings).
"""

from __future__ import annotations

import threading

import xmlsec

_local = threading.local()


def decryption_key(key_pem: str | bytes) -> xmlsec.Key:
    """This thread's parsed `key_pem`; xmlsec contexts and keys are not shared across threads."""
    keys = _local.__dict__.setdefault("keys", {})
    key = keys.get(key_pem)
    if key is None:
        if len(keys) >= 8:
            keys.clear()
        key = keys[key_pem] = xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM, None)
    return key
