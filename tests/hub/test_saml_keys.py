"""Our decryption key is parsed once per key and thread, and still decrypts correctly."""

from __future__ import annotations

import threading

from broker.hub import saml_keys
from tests import hub_messages
from tests.oidc_client import authorize, post_to_acs, query


def test_one_parsed_key_serves_many_decryptions(stack):
    key = stack.config.saml.encryption[0].key_pem
    for identity in ("jane", "dmitri", "sam"):
        attempt = authorize(stack)
        answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, identity),
                             attempt.relay_state)
        assert "code" in query(answer.headers["Location"])
    assert saml_keys.decryption_key(key) is saml_keys.decryption_key(key)


def test_each_thread_has_its_own_parsed_key(stack):
    key = stack.config.saml.encryption[0].key_pem
    here = saml_keys.decryption_key(key)
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(saml_keys.decryption_key(key)))
    thread.start()
    thread.join()
    assert elsewhere[0] is not here
