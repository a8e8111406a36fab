"""Each truststore trusts only its own CA: a signing certificate is an end-entity certificate
issued by that truststore's own intermediate, never a CA certificate and never one the shared
root issued directly. Every cross-purpose use of the federation's keys is performed here and
refused; where a whole document is refused, the last good copy stays in use."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import responses

from broker.devtools.keys import issued_pair
from broker.devtools.stub_hub import saml
from broker.hub.federation import MetadataError, parse_hub_metadata
from broker.hub.metadata_source import HubMetadataSource
from broker.state import BrokerState
from tests.hub.conftest import assert_rejected, assert_signed_in
from tests.hub.federation import (
    HUB_ENTITY_ID,
    METADATA_URL,
    Clock,
    ca_as_signer,
    federation,
    hub_config,
    issue,
    metadata_xml,
    root_issuer,
)
from tests.hub_messages import Forgery, forge

ROGUE_IDP = "https://rogue-idp.example.test/"


def root_issued(keys_dir, common_name: str) -> tuple[str, str]:
    return issued_pair(common_name, root_issuer(keys_dir))


# Metadata signed by anything but a leaf of the metadata CA is refused whole.

def signed_by_the_hub_ca(keys):
    signer = ca_as_signer(keys, "demo-hub-ca", HUB_ENTITY_ID)
    return metadata_xml(keys, key=signer.key_pem, cert=signer.cert_pem)


def signed_by_the_idp_ca(keys):
    signer = ca_as_signer(keys, "demo-idp-ca", HUB_ENTITY_ID)
    return metadata_xml(keys, key=signer.key_pem, cert=signer.cert_pem)


def signed_by_the_metadata_ca_itself(keys):
    signer = ca_as_signer(keys, "demo-metadata-ca", HUB_ENTITY_ID)
    return metadata_xml(keys, key=signer.key_pem, cert=signer.cert_pem)


def signed_by_a_root_issued_leaf(keys):
    key, cert = root_issued(keys, "a metadata signing key the root issued directly")
    return metadata_xml(keys, key=key, cert=cert)


def hub_signing_certs_from_the_idp_ca(keys):
    _key, first = issue(keys, "demo-idp-ca", "a hub key from the IDP CA")
    _key, second = issue(keys, "demo-idp-ca", "another hub key from the IDP CA")
    base = federation(keys)
    forged = replace(base, hub=replace(base.hub, cert_pem=first),
                     hub_other_signing_cert_pem=second)
    return saml.federation_metadata(forged, valid_until=datetime.now(UTC) + timedelta(days=2))


REFUSED_DOCUMENTS = {
    "signed by the hub CA key": (signed_by_the_hub_ca, "does not chain to the metadata"),
    "signed by the IDP CA key": (signed_by_the_idp_ca, "does not chain to the metadata"),
    "signed by the metadata CA key": (signed_by_the_metadata_ca_itself,
                                      "does not chain to the metadata"),
    "signed by a leaf the root issued": (signed_by_a_root_issued_leaf,
                                         "does not chain to the metadata"),
    "whose hub signing certificates come from the IDP CA": (
        hub_signing_certs_from_the_idp_ca, "no signing certificate for the hub"),
}


@pytest.mark.parametrize("build, reason", REFUSED_DOCUMENTS.values(), ids=REFUSED_DOCUMENTS)
def test_metadata_from_another_purposes_ca_is_refused(keys_dir, build, reason):
    with pytest.raises(MetadataError, match=reason):
        parse_hub_metadata(build(keys_dir).encode(), hub_config(keys_dir))


@pytest.mark.parametrize("build, reason", REFUSED_DOCUMENTS.values(), ids=REFUSED_DOCUMENTS)
@responses.activate
def test_a_refused_refresh_keeps_the_last_good_copy(keys_dir, shared_state, build, reason):
    config = hub_config(keys_dir)
    responses.get(METADATA_URL, body=metadata_xml(keys_dir))
    clock = Clock()
    source = HubMetadataSource(config, shared_state, clock)
    good = source.current()
    responses.replace(responses.GET, METADATA_URL, body=build(keys_dir))
    clock.now += config.refresh_seconds + 1
    current = source.current()
    assert current.signing_certs == good.signing_certs
    assert current.identity_providers == good.identity_providers
    assert reason in source.status().last_error


# An identity provider (or the hub) whose certificate is not an end-entity certificate of its
# own CA is left out, as OpenSAML's chain-validating filter leaves it out.

def rogue(keys, kind: str) -> saml.HubSigner:
    if kind == "the hub CA":
        return ca_as_signer(keys, "demo-hub-ca", ROGUE_IDP)
    if kind == "the metadata CA":
        return ca_as_signer(keys, "demo-metadata-ca", ROGUE_IDP)
    if kind == "the IDP CA itself":
        return ca_as_signer(keys, "demo-idp-ca", ROGUE_IDP)
    if kind == "a leaf the root issued":
        return saml.HubSigner(ROGUE_IDP, *root_issued(keys, "an IDP key the root issued"))
    if kind == "a leaf the IDP CA issued":  # a genuine identity provider's kind of key
        return saml.HubSigner(ROGUE_IDP, *issue(keys, "demo-idp-ca", "an unlisted IDP's key"))
    if kind == "a leaf the hub CA issued":
        return saml.HubSigner(ROGUE_IDP, *issue(keys, "demo-hub-ca", "an IDP key from the hub CA"))
    raise AssertionError(kind)


ROGUE_IDPS = ("the hub CA", "the metadata CA", "the IDP CA itself", "a leaf the root issued",
              "a leaf the hub CA issued")


@pytest.mark.parametrize("kind", ROGUE_IDPS)
def test_an_identity_provider_whose_certificate_is_not_an_idp_ca_leaf_is_left_out(keys_dir, kind):
    xml = metadata_xml(keys_dir, extra_idps=(rogue(keys_dir, kind),))
    metadata = parse_hub_metadata(xml.encode(), hub_config(keys_dir))
    assert metadata.identity_provider(ROGUE_IDP) is None
    assert len(metadata.identity_providers) == 2


@pytest.mark.parametrize("kind", ("the hub CA itself", "a leaf the root issued",
                                  "a leaf the IDP CA issued"))
def test_a_hub_signing_certificate_that_is_not_a_hub_ca_leaf_is_left_out(keys_dir, kind):
    if kind == "the hub CA itself":
        cert = (keys_dir / "demo-hub-ca.crt").read_text()
    elif kind == "a leaf the root issued":
        cert = root_issued(keys_dir, "a hub key the root issued")[1]
    else:
        cert = issue(keys_dir, "demo-idp-ca", "a hub key from the IDP CA")[1]
    xml = metadata_xml(keys_dir, extra_hub_signing_certs=(cert,))
    metadata = parse_hub_metadata(xml.encode(), hub_config(keys_dir))
    assert len(metadata.signing_certs) == 2


# End to end: the attacks as they were reproduced against the demo, each ending with a resident
# who is NOT signed in.

@pytest.fixture
def stack(stack_factory):
    """Reads the shared hub metadata at every request, so that a copy a test puts in Redis (as
    another process's refresh would) is the one the next sign-in meets."""
    return stack_factory(lambda ports: {"hub.local_copy_seconds": 0})


def share(stack, xml: str) -> None:
    BrokerState(stack.redis, stack.prefix).save_hub_metadata(xml, time.time(), 600)


def test_metadata_signed_with_the_hub_ca_key_cannot_add_an_identity_provider(stack, send,
                                                                              keys_dir):
    """The reproduction: metadata signed with the hub CA's key lists an identity provider whose
    certificate is the hub CA's; the hub CA's key signs both assertions, Issuer that provider."""
    hub_ca = ca_as_signer(keys_dir, "demo-hub-ca", ROGUE_IDP)
    forged = saml.federation_metadata(replace(stack.hub.federation,
                                              metadata_key_pem=hub_ca.key_pem,
                                              metadata_cert_pem=hub_ca.cert_pem),
                                      extra_idps=(hub_ca,))
    share(stack, forged)
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(assertion_signer=hub_ca),
                                   issuer=ROGUE_IDP))
    assert_rejected(outcome, "Assertion Issuer is not an identity provider of the federation")
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id)))  # the good copy serves


@pytest.mark.parametrize("kind", ("the metadata CA", "the hub CA", "a leaf the root issued"))
def test_a_federation_signed_identity_provider_with_a_foreign_certificate_signs_nobody_in(
        stack, send, keys_dir, kind):
    signer = rogue(keys_dir, kind)
    share(stack, saml.federation_metadata(stack.hub.federation, extra_idps=(signer,)))
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(assertion_signer=signer),
                                   issuer=ROGUE_IDP))
    assert_rejected(outcome, "Assertion Issuer is not an identity provider of the federation")


def test_a_hub_key_issued_by_the_idp_ca_cannot_sign_the_response(stack, send, keys_dir):
    key, cert = issue(keys_dir, "demo-idp-ca", "a hub key from the IDP CA")
    share(stack, saml.federation_metadata(stack.hub.federation, extra_hub_signing_certs=(cert,)))
    impostor = saml.HubSigner(stack.hub.entity_id, key, cert)
    outcome = send(lambda a: forge(stack, a.authn_request_id,
                                   Forgery(response_signer=impostor)))
    assert_rejected(outcome, "Response signature does not verify with a trusted key")


def test_metadata_signed_by_a_root_issued_leaf_adds_no_identity_provider(stack, send, keys_dir):
    """Only the metadata signer is wrong here: the added provider's key is an IDP CA leaf."""
    key, cert = root_issued(keys_dir, "a metadata signing key the root issued directly")
    signer = rogue(keys_dir, "a leaf the IDP CA issued")
    share(stack, saml.federation_metadata(replace(stack.hub.federation, metadata_key_pem=key,
                                                  metadata_cert_pem=cert),
                                          extra_idps=(signer,)))
    outcome = send(lambda a: forge(stack, a.authn_request_id, Forgery(assertion_signer=signer),
                                   issuer=ROGUE_IDP))
    assert_rejected(outcome, "Assertion Issuer is not an identity provider of the federation")
