"""Keeps python3-saml from rebuilding an xmlsec keys manager for every encrypted assertion.

python3-saml's `decrypt_element` creates an `xmlsec.KeysManager` and parses the private key from
PEM on every call; on this machine that is tens of milliseconds, most of the assertion consumer
service's CPU (benchmarks/README.md). The manager only holds our own decryption key, which does
not change while the process runs, so one manager per key and thread is kept and reused. The
decryption itself is unchanged: the same xmlsec call, on the same element, with the same key.

As with broker.hub.saml_clock, only python3-saml's response module sees the change: its
module-level name for the utilities class is replaced by a subclass of whatever is there.
"""

from __future__ import annotations

import threading
from copy import deepcopy

import xmlsec
from lxml import etree
from onelogin.saml2 import response as _response_module

from broker.hub import saml_clock  # noqa: F401  (its subclass first; this one extends it)

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


_Base = _response_module.OneLogin_Saml2_Utils


class _CachedKeysUtils(_Base):
    @staticmethod
    def decrypt_element(encrypted_data, key, debug=False, inplace=False):
        if not isinstance(encrypted_data, etree._Element):  # strings, minidom: the library's way
            return _Base.decrypt_element(encrypted_data, key, debug, inplace)
        if not inplace:
            encrypted_data = deepcopy(encrypted_data)
        xmlsec.enable_debug_trace(debug)
        return xmlsec.EncryptionContext(keys_manager(key)).decrypt(encrypted_data)


_response_module.OneLogin_Saml2_Utils = _CachedKeysUtils
