"""Key rotation without downtime, end to end.

Encryption: the new key is published beside the old one and both decrypt; then the old one is
retired. Signing: the next signing certificate is published (`saml.signing_next`) before the
switch, so a hub holding that metadata already trusts AuthnRequests signed with the new key.
"""

from __future__ import annotations

import base64

import pytest
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.app import create_app
from broker.devtools.keys import self_signed_pair
from broker.hub.sp_metadata import sp_metadata
from broker.web.pages import PAGES
from tests.hub.conftest import post_at, start_flow_at
from tests.hub_messages import Forgery, forge


@pytest.fixture
def stack(stack_factory):
    """Reads the shared hub metadata at every request (`hub.local_copy_seconds: 0`), so that a
    copy put in Redis by a test, as another process's refresh would, is used at once."""
    return stack_factory(lambda ports: {"hub.local_copy_seconds": 0})


@pytest.fixture
def new_pair(tmp_path):
    key_pem, cert_pem = self_signed_pair("broker key, next generation")
    (tmp_path / "new.key").write_text(key_pem)
    (tmp_path / "new.crt").write_text(cert_pem)
    return {"key": str(tmp_path / "new.key"), "cert": str(tmp_path / "new.crt")}


@pytest.fixture
def old_encryption(keys_dir):
    return {"key": str(keys_dir / "broker-saml-encryption.key"),
            "cert": str(keys_dir / "broker-saml-encryption.crt")}


def _signs_in(stack, config, encrypted_to: str) -> bool:
    client = create_app(config).test_client()
    flow = start_flow_at(client, stack)
    answer = post_at(client, flow, forge(stack, flow.authn_request_id,
                                         Forgery(encryption_cert_pem=encrypted_to)))
    return answer.status_code == 302 and "code=" in answer.headers["Location"]


def test_during_an_encryption_rotation_the_old_key_still_decrypts(stack, reconfigured, new_pair,
                                                                  old_encryption):
    config = reconfigured(**{"saml.encryption": [old_encryption, new_pair]})
    assert _signs_in(stack, config, config.saml.encryption[0].cert_pem)


def test_during_an_encryption_rotation_the_new_key_decrypts(stack, reconfigured, new_pair,
                                                            old_encryption):
    config = reconfigured(**{"saml.encryption": [old_encryption, new_pair]})
    assert _signs_in(stack, config, config.saml.encryption[1].cert_pem)


def test_after_the_rotation_the_new_key_alone_decrypts(stack, reconfigured, new_pair):
    config = reconfigured(**{"saml.encryption": [new_pair]})
    assert _signs_in(stack, config, config.saml.encryption[0].cert_pem)


def test_after_the_rotation_an_assertion_for_the_retired_key_is_rejected(
        stack, reconfigured, new_pair):
    retired_cert = stack.config.saml.encryption[0].cert_pem
    config = reconfigured(**{"saml.encryption": [new_pair]})
    client = create_app(config).test_client()
    flow = start_flow_at(client, stack)
    answer = post_at(client, flow, forge(stack, flow.authn_request_id,
                                         Forgery(encryption_cert_pem=retired_cert)))
    assert answer.status_code == 400
    assert PAGES["rejected"].title in answer.get_data(as_text=True)


def _published_signing_certs(config) -> list[str]:
    root = etree.fromstring(sp_metadata(config).encode())
    return [OneLogin_Saml2_Utils.format_cert(c.text) for c in root.iter(
        "{http://www.w3.org/2000/09/xmldsig#}X509Certificate")
        if c.getparent().getparent().getparent().get("use") == "signing"]


def _request_verifies(saml_request: str, certs: list[str]) -> bool:
    root = etree.fromstring(base64.b64decode(saml_request))
    return OneLogin_Saml2_Utils.validate_sign(root, multicerts=certs,
                                              xpath="/samlp:AuthnRequest/ds:Signature")


def test_before_the_switch_requests_are_still_signed_with_the_current_key(stack, reconfigured,
                                                                          new_pair):
    config = reconfigured(**{"saml.signing_next": {"cert": new_pair["cert"]}})
    flow = start_flow_at(create_app(config).test_client(), stack)
    assert _request_verifies(flow.saml_request, [config.saml.signing.cert_pem])


def test_after_the_switch_a_hub_holding_the_pre_switch_metadata_trusts_our_requests(
        stack, reconfigured, new_pair, keys_dir):
    before = reconfigured(**{"saml.signing_next": {"cert": new_pair["cert"]}})
    hub_knows = _published_signing_certs(before)
    after = reconfigured(**{"saml.signing": new_pair})
    flow = start_flow_at(create_app(after).test_client(), stack)
    assert _request_verifies(flow.saml_request, hub_knows)


def test_a_hub_that_never_saw_the_next_key_would_refuse_the_switched_requests(
        stack, reconfigured, new_pair):
    """Why the next key must be published first: the old metadata alone does not trust it."""
    hub_knows = _published_signing_certs(stack.config)
    after = reconfigured(**{"saml.signing": new_pair})
    flow = start_flow_at(create_app(after).test_client(), stack)
    assert not _request_verifies(flow.saml_request, hub_knows)


def test_a_response_signed_with_either_of_the_hubs_published_signing_keys_is_accepted(
        stack, send, keys_dir):
    """The hub's entity in Verify's federation metadata carries two signing keys (one in use,
    one next): a Response signed with the second verifies too."""
    from broker.devtools.stub_hub import saml
    from tests.hub.conftest import assert_signed_in

    second = saml.HubSigner(stack.hub.entity_id, (keys_dir / "hub-signing-2.key").read_text(),
                            (keys_dir / "hub-signing-2.crt").read_text())
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id,
                                          Forgery(response_signer=second))))


def test_a_hub_key_in_the_metadata_that_does_not_chain_to_the_hub_truststore_is_not_trusted(
        stack, send):
    """Put in place as the shared copy every broker process reads, as a refresh would: the
    federation signed it, but the extra certificate is not issued by the hub's CA."""
    import time

    from broker.devtools.stub_hub import saml
    from broker.state import BrokerState
    from tests.hub.conftest import assert_rejected

    stray_key, stray_cert = self_signed_pair("a hub key no CA issued")
    metadata = saml.federation_metadata(stack.hub.federation,
                                        extra_hub_signing_certs=(stray_cert,))
    BrokerState(stack.redis, stack.prefix).save_hub_metadata(metadata, time.time(), 600)
    stray = saml.HubSigner(stack.hub.entity_id, stray_key, stray_cert)
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(response_signer=stray)))
    assert_rejected(outcome, "Response signature does not verify with a trusted key")
