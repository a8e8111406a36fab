"""One xmlsec keys manager per decryption key and thread, kept for the next assertion.

Creating an `xmlsec.KeysManager` and parsing the private key from PEM costs tens of milliseconds
on this machine, most of the assertion consumer service's CPU (benchmarks/README.md), and the
manager only holds our own decryption key, which does not change while the process runs.
"""

from __future__ import annotations

import threading

import xmlsec

_local = threading.local()


def keys_manager(key_pem: str | bytes) -> xmlsec.KeysManager:
    """This thread's manager holding `key_pem`; xmlsec contexts are not shared across threads."""
    managers = _local.__dict__.setdefault("managers", {})
    manager = managers.get(key_pem)
    if manager is None:
        manager = xmlsec.KeysManager()
        manager.add_key(xmlsec.Key.from_memory(key_pem, xmlsec.KeyFormat.PEM, None))
        managers[key_pem] = manager
    return manager
