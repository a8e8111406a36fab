"""The decryption keys manager is built once per key and thread, and still decrypts correctly."""

from __future__ import annotations

import threading

from broker.hub import saml_keys
from tests import hub_messages
from tests.oidc_client import authorize, post_to_acs, query


def test_one_keys_manager_per_key_serves_many_decryptions(stack):
    key = stack.config.saml.encryption[0].key_pem
    for identity in ("jane", "dmitri", "sam"):
        attempt = authorize(stack)
        answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, identity),
                             attempt.relay_state)
        assert "code" in query(answer.headers["Location"])
    assert saml_keys.keys_manager(key) is saml_keys.keys_manager(key)


def test_each_thread_has_its_own_keys_manager(stack):
    key = stack.config.saml.encryption[0].key_pem
    here = saml_keys.keys_manager(key)
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(saml_keys.keys_manager(key)))
    thread.start()
    thread.join()
    assert elsewhere[0] is not here
