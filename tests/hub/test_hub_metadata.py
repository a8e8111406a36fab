"""Trust in the federation's metadata: its one root signature by a certificate that chains to
the metadata truststore, hub and identity provider certificates that chain to theirs, refreshed
on one schedule shared by every broker process through Redis, the last good copy kept on
failure."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import responses

from broker.config import HubConfig
from broker.devtools.keys import self_signed_pair
from broker.devtools.stub_hub import saml
from broker.hub.federation import MetadataError, parse_hub_metadata
from broker.hub.metadata_source import HubMetadataSource
from tests.hub.federation import HUB_ENTITY_ID, HUB_SSO_URL, METADATA_URL, Clock, issue
from tests.hub.federation import hub_config as federation_hub_config
from tests.hub.federation import metadata_xml as federation_metadata


@pytest.fixture
def keys(keys_dir):
    return keys_dir


def metadata_xml(keys_dir, valid_for=timedelta(days=2), key=None, cert=None, **extras) -> str:
    return federation_metadata(keys_dir, valid_for, key, cert, **extras)


@pytest.fixture
def hub_config(keys_dir) -> HubConfig:
    return federation_hub_config(keys_dir)


def process(hub_config, shared_state, clock=None) -> HubMetadataSource:
    """One broker process's view of the hub metadata (each process has its own instance)."""
    return HubMetadataSource(hub_config, shared_state, clock or time.time)


def test_federation_metadata_signed_through_the_metadata_ca_is_accepted(keys):
    metadata = parse_hub_metadata(metadata_xml(keys).encode(), federation_hub_config(keys))
    assert metadata.entity_id == HUB_ENTITY_ID
    assert metadata.sso_url == HUB_SSO_URL  # configuration: the hub's entity has no SSO URL
    assert len(metadata.signing_certs) == 2
    assert [idp.entity_id for idp in metadata.identity_providers] == [
        "https://idp-one.example.test/", "https://idp-two.example.test/"]


def test_a_rotated_metadata_signing_certificate_from_the_same_ca_needs_no_change(keys):
    """Trust is by chain, not a pinned leaf: the federation's next signing key just works."""
    key, cert = issue(keys, "demo-metadata-ca", "next metadata signing key")
    xml = metadata_xml(keys, key=key, cert=cert)
    assert parse_hub_metadata(xml.encode(), federation_hub_config(keys)).entity_id \
        == HUB_ENTITY_ID


def test_metadata_signed_by_a_certificate_of_another_ca_is_refused(keys):
    key, cert = issue(keys, "demo-hub-ca", "the hub, signing metadata")
    with pytest.raises(MetadataError, match="does not chain to the metadata truststore"):
        parse_hub_metadata(metadata_xml(keys, key=key, cert=cert).encode(),
                           federation_hub_config(keys))


def test_a_single_entity_descriptor_is_not_the_federations_metadata(keys):
    xml = saml.sign(f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
                    f'ID="_one" entityID="{HUB_ENTITY_ID}" validUntil="2099-01-01T00:00:00Z"/>',
                    (keys / "federation-metadata-signing.key").read_text(),
                    (keys / "federation-metadata-signing.crt").read_text())
    with pytest.raises(MetadataError, match="must be an md:EntitiesDescriptor"):
        parse_hub_metadata(xml.encode(), federation_hub_config(keys))


def test_an_identity_provider_whose_certificate_is_not_from_the_idp_ca_is_left_out(keys):
    key, cert = issue(keys, "demo-hub-ca", "an IDP key from the wrong CA")
    stray = saml.HubSigner("https://stray-idp.example.test/", key, cert)
    metadata = parse_hub_metadata(metadata_xml(keys, extra_idps=(stray,)).encode(),
                                  federation_hub_config(keys))
    assert metadata.identity_provider("https://stray-idp.example.test/") is None
    assert len(metadata.identity_providers) == 2


def test_a_hub_signing_certificate_that_does_not_chain_to_the_hub_ca_is_left_out(keys):
    _key, cert = self_signed_pair("a hub key nobody issued")
    metadata = parse_hub_metadata(metadata_xml(keys, extra_hub_signing_certs=(cert,)).encode(),
                                  federation_hub_config(keys))
    assert len(metadata.signing_certs) == 2


def test_the_hub_entity_can_be_named_in_configuration(keys):
    config = federation_hub_config(keys, entity_id="https://idp-one.example.test/")
    with pytest.raises(MetadataError, match="no hub entity"):
        parse_hub_metadata(metadata_xml(keys).encode(), config)


def test_unsigned_metadata_is_refused(keys):
    xml = metadata_xml(keys)
    start = xml.index("<ds:Signature")
    unsigned = xml[:start] + xml[xml.index("</ds:Signature>") + len("</ds:Signature>"):]
    with pytest.raises(MetadataError, match="signature"):
        parse_hub_metadata(unsigned.encode(), federation_hub_config(keys))


def test_metadata_signed_by_another_key_is_refused(keys):
    other_key, other_cert = self_signed_pair("not the federation")
    xml = metadata_xml(keys, key=other_key, cert=other_cert)
    with pytest.raises(MetadataError, match="does not chain"):
        parse_hub_metadata(xml.encode(), federation_hub_config(keys))


def test_metadata_changed_after_signing_is_refused(keys):
    xml = metadata_xml(keys).replace("https://idp-two.example.test/", "https://evil.example/")
    with pytest.raises(MetadataError, match="signature"):
        parse_hub_metadata(xml.encode(), federation_hub_config(keys))


def test_metadata_past_valid_until_is_refused(keys):
    xml = metadata_xml(keys, valid_for=timedelta(seconds=-1))
    with pytest.raises(MetadataError, match="validUntil"):
        parse_hub_metadata(xml.encode(), federation_hub_config(keys))


def test_metadata_without_valid_until_is_refused(keys):
    xml = metadata_xml(keys)
    xml = xml[:xml.index("<ds:Signature")] + xml[xml.index("</ds:Signature>") + 15:]
    start = xml.index(' validUntil="')
    without = xml[:start] + xml[xml.index('"', start + 13) + 1:]
    signed = saml.sign(without, (keys / "federation-metadata-signing.key").read_text(),
                       (keys / "federation-metadata-signing.crt").read_text())
    with pytest.raises(MetadataError, match="no validUntil"):
        parse_hub_metadata(signed.encode(), federation_hub_config(keys))


def test_metadata_with_a_doctype_is_refused(keys):
    xml = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + metadata_xml(keys)
    with pytest.raises(MetadataError, match="not acceptable XML"):
        parse_hub_metadata(xml.encode(), federation_hub_config(keys))


def test_metadata_is_read_from_a_file(keys, hub_config, shared_state, tmp_path):
    path = tmp_path / "hub-metadata.xml"
    path.write_text(metadata_xml(keys))
    config = replace(hub_config, metadata_url=None, metadata_file=path)
    assert process(config, shared_state).current().entity_id == HUB_ENTITY_ID


@responses.activate
def test_metadata_is_fetched_from_a_url(keys, hub_config, shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    assert process(hub_config, shared_state).current().entity_id == HUB_ENTITY_ID


@responses.activate
def test_unsigned_metadata_from_the_url_is_never_used(keys, hub_config, shared_state):
    xml = metadata_xml(keys)
    unsigned = xml[:xml.index("<ds:Signature")] + xml[xml.index("</ds:Signature>") + 15:]
    responses.get(METADATA_URL, body=unsigned)
    with pytest.raises(MetadataError):
        process(hub_config, shared_state).current()
    assert shared_state.get_hub_metadata() is None


@responses.activate
def test_processes_share_one_fetch(keys, hub_config, shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    first, second = process(hub_config, shared_state), process(hub_config, shared_state)
    first.current()
    second.current()
    first.current()
    assert len(responses.calls) == 1


@responses.activate
def test_metadata_is_fetched_again_once_the_refresh_interval_has_passed(keys, hub_config,
                                                                        shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    first, second = process(hub_config, shared_state, clock), process(hub_config, shared_state,
                                                                        clock)
    first.current()
    clock.now += hub_config.refresh_seconds + 1
    second.current()
    first.current()
    assert len(responses.calls) == 2


@responses.activate
def test_failed_refresh_keeps_serving_the_last_good_copy(keys, hub_config, shared_state,
                                                         caplog):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    first = process(hub_config, shared_state, clock)
    first.current()
    responses.replace(responses.GET, METADATA_URL, status=503)
    clock.now += hub_config.refresh_seconds + 1
    with caplog.at_level(logging.ERROR, logger="broker.hub.metadata_source"):
        metadata = process(hub_config, shared_state, clock).current()
    assert metadata.entity_id == HUB_ENTITY_ID
    assert "hub metadata refresh from" in caplog.text and "failed" in caplog.text


@responses.activate
def test_a_failed_refresh_shows_in_the_status_of_every_process(keys, hub_config, shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    first, second = process(hub_config, shared_state, clock), process(hub_config, shared_state,
                                                                        clock)
    first.current()
    assert second.status().healthy
    responses.replace(responses.GET, METADATA_URL, status=503)
    clock.now += hub_config.refresh_seconds + 1
    first.current()
    status = second.status()
    assert status.usable and not status.healthy
    assert "503" in status.last_error


@responses.activate
def test_while_the_hub_is_down_processes_retry_once_per_interval_not_per_request(
        keys, hub_config, shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    processes = [process(hub_config, shared_state, clock) for _ in range(3)]
    processes[0].current()
    responses.replace(responses.GET, METADATA_URL, status=503)
    clock.now += hub_config.refresh_seconds + 1
    for _ in range(3):
        for each in processes:
            each.current()
    assert len(responses.calls) == 2


@responses.activate
def test_last_good_copy_is_not_served_past_its_valid_until(keys, hub_config, shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys, valid_for=timedelta(hours=2)))
    clock = Clock()
    source = process(hub_config, shared_state, clock)
    source.current()
    responses.replace(responses.GET, METADATA_URL, status=503)
    clock.now += 3 * 3600
    with pytest.raises(MetadataError):
        source.current()
    assert not source.status().usable


@responses.activate
def test_refresh_that_fetches_expired_metadata_keeps_the_last_good_copy(keys, hub_config,
                                                                       shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    source = process(hub_config, shared_state, clock)
    source.current()
    responses.replace(responses.GET, METADATA_URL,
                      body=metadata_xml(keys, valid_for=timedelta(seconds=-5)))
    clock.now += hub_config.refresh_seconds + 1
    assert source.current().entity_id == HUB_ENTITY_ID
    assert "validUntil" in source.status().last_error


def test_no_metadata_at_all_is_reported_unusable(hub_config, shared_state):
    with responses.RequestsMock() as mock:
        mock.get(METADATA_URL, status=500)
        source = process(hub_config, shared_state)
        with pytest.raises(MetadataError):
            source.current()
        assert not source.status().usable


def test_a_shared_copy_altered_in_redis_is_not_believed(keys, hub_config, shared_state):
    forged = metadata_xml(keys).replace("https://idp-two.example.test/", "https://evil.example/")
    shared_state.save_hub_metadata(forged, time.time(), 600)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(METADATA_URL, status=503)
        with pytest.raises(MetadataError, match="no trusted hub metadata"):
            process(hub_config, shared_state).current()


@responses.activate
def test_a_shared_copy_that_fails_under_the_current_trust_is_replaced_at_once(
        keys, hub_config, shared_state):
    """Another checkout's demo, or the federation's previous trust anchor, left a copy in Redis
    that this configuration cannot verify: that copy is stale, so a fresh one is fetched now
    rather than answering 503 until `refresh_seconds` has passed."""
    other_key, other_cert = self_signed_pair("another checkout's federation key")
    shared_state.save_hub_metadata(metadata_xml(keys, key=other_key, cert=other_cert),
                                   time.time(), 3600)
    responses.get(METADATA_URL, body=metadata_xml(keys))
    first, second = process(hub_config, shared_state), process(hub_config, shared_state)
    assert first.current().entity_id == HUB_ENTITY_ID
    assert second.current().entity_id == HUB_ENTITY_ID
    assert len(responses.calls) == 1
    assert second.status().healthy


@responses.activate
def test_status_refreshes_when_due_so_readiness_probes_keep_the_schedule(keys, hub_config,
                                                                         shared_state):
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    source = process(hub_config, shared_state, clock)
    assert source.status().usable
    clock.now += hub_config.refresh_seconds + 1
    assert source.status().fetched_at == clock.now
    assert len(responses.calls) == 2


@responses.activate
def test_each_process_reads_the_shared_copy_once_per_local_copy_interval(keys, hub_config,
                                                                         shared_state):
    """A sign-in must not cost a Redis read for metadata that changes a few times a year; a
    copy another process put in Redis reaches this one within `local_copy_seconds`."""
    responses.get(METADATA_URL, body=metadata_xml(keys))
    clock = Clock()
    config = replace(hub_config, local_copy_seconds=10)
    reads = []
    read = shared_state.get_hub_metadata
    shared_state.get_hub_metadata = lambda: reads.append(1) or read()
    source = process(config, shared_state, clock)
    first = source.current()
    reads.clear()
    for _ in range(50):
        assert source.current().signing_certs == first.signing_certs
    assert reads == []

    _key, next_cert = issue(keys, "demo-hub-ca", "hub signing key, next generation")
    rotated = metadata_xml(keys, extra_hub_signing_certs=(next_cert,))
    shared_state.save_hub_metadata(rotated, clock.now, 600)  # another process's refresh
    clock.now += 5
    assert len(source.current().signing_certs) == 2
    clock.now += 5
    assert len(source.current().signing_certs) == 3
    assert len(reads) == 1
