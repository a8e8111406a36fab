"""How long the federation's metadata, its entities and its certificates are believed:
`validUntil` and `cacheDuration` at every level SAML metadata allows them, expiry checked at
every use (not only when the document is read), a bound on how far ahead a document may claim
to be valid, and malformed signed values treated as invalid metadata, never as a server error."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import responses

from broker.app import create_app
from broker.config import ConfigError, load_config
from broker.devtools.keys import issued_pair, load_issuer
from broker.devtools.stub_hub import saml
from broker.devtools.stub_hub.identities import IDENTITIES
from broker.hub.federation import MetadataError, parse_hub_metadata
from broker.hub.metadata_source import HubMetadataSource
from broker.hub.outcomes import ResponseRejected
from broker.hub.responses import read_response
from broker.identity import Flow, LevelOfAssurance, SamlRequest
from broker.state import BrokerState
from broker.upstreams.interface import UpstreamAnswer
from tests.conftest import Ports, write_config
from tests.hub.conftest import assert_rejected, start_flow_at
from tests.hub.federation import (
    HUB_ENTITY_ID,
    METADATA_URL,
    Clock,
    hub_config,
    metadata_xml,
    resigned,
)
from tests.hub_messages import forge

MD = "{urn:oasis:names:tc:SAML:2.0:metadata}"
IDP_ONE = "https://idp-one.example.test/"
PAST = "2001-01-01T00:00:00Z"


def entity(root, entity_id: str):
    return next(e for e in root.iter(f"{MD}EntityDescriptor") if e.get("entityID") == entity_id)


def saml_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# validUntil on entities and role descriptors

def test_an_identity_provider_entity_past_its_valid_until_is_not_trusted(keys_dir):
    xml = resigned(keys_dir, metadata_xml(keys_dir),
                   lambda root: entity(root, IDP_ONE).set("validUntil", PAST))
    metadata = parse_hub_metadata(xml.encode(), hub_config(keys_dir))
    assert metadata.identity_provider(IDP_ONE) is None
    assert metadata.identity_provider("https://idp-two.example.test/") is not None


def test_an_idp_descriptor_past_its_valid_until_is_not_trusted(keys_dir):
    xml = resigned(keys_dir, metadata_xml(keys_dir), lambda root: entity(root, IDP_ONE).find(
        f"{MD}IDPSSODescriptor").set("validUntil", PAST))
    metadata = parse_hub_metadata(xml.encode(), hub_config(keys_dir))
    assert metadata.identity_provider(IDP_ONE) is None


def test_a_hub_entity_past_its_valid_until_makes_the_metadata_unusable(keys_dir):
    xml = resigned(keys_dir, metadata_xml(keys_dir), lambda root: entity(
        root, HUB_ENTITY_ID).find(f"{MD}SPSSODescriptor").set("validUntil", PAST))
    with pytest.raises(MetadataError, match="hub entity .* has passed its validUntil"):
        parse_hub_metadata(xml.encode(), hub_config(keys_dir))


def test_an_identity_provider_entity_that_expires_later_is_refused_from_then_on(keys_dir):
    """Read while still valid, and not read again: its expiry is checked at each use."""
    ends = datetime.now(UTC) + timedelta(hours=1)
    xml = resigned(keys_dir, metadata_xml(keys_dir),
                   lambda root: entity(root, IDP_ONE).set("validUntil", saml_time(ends)))
    metadata = parse_hub_metadata(xml.encode(), hub_config(keys_dir))
    assert metadata.identity_provider(IDP_ONE) is not None
    assert metadata.identity_provider(IDP_ONE, ends + timedelta(seconds=1)) is None


@pytest.fixture
def stack(stack_factory):
    """Reads the shared hub metadata at every request (see tests/hub/test_key_rotation.py)."""
    return stack_factory(lambda ports: {"hub.local_copy_seconds": 0})


def test_a_resident_of_an_expired_identity_provider_inside_valid_metadata_is_refused(
        stack, send, keys_dir):
    idp = stack.hub.idp.entity_id
    expired = resigned(keys_dir, saml.federation_metadata(stack.hub.federation),
                       lambda root: entity(root, idp).set("validUntil", PAST))
    BrokerState(stack.redis, stack.prefix).save_hub_metadata(expired, time.time(), 600)
    outcome = send(lambda a: forge(stack, a.authn_request_id))
    assert_rejected(outcome, "Assertion Issuer is not an identity provider of the federation")


# cacheDuration: the longest time between refreshes

@pytest.mark.parametrize("where", ("EntitiesDescriptor", "hub EntityDescriptor",
                                   "IDPSSODescriptor"))
@responses.activate
def test_the_shortest_cache_duration_is_the_longest_time_between_refreshes(keys_dir,
                                                                          shared_state, where):
    def edit(root):
        element = {"EntitiesDescriptor": root,
                   "hub EntityDescriptor": entity(root, HUB_ENTITY_ID),
                   "IDPSSODescriptor": entity(root, IDP_ONE).find(f"{MD}IDPSSODescriptor")}[where]
        element.set("cacheDuration", "PT10M")

    responses.get(METADATA_URL, body=resigned(keys_dir, metadata_xml(keys_dir), edit))
    clock = Clock()
    source = HubMetadataSource(hub_config(keys_dir, refresh_seconds=3600), shared_state, clock)
    source.current()
    clock.now += 9 * 60
    source.current()
    assert len(responses.calls) == 1
    clock.now += 2 * 60
    source.current()
    assert len(responses.calls) == 2


@responses.activate
def test_a_very_short_cache_duration_refreshes_at_most_once_a_minute(keys_dir, shared_state):
    """verify-saml-libs' minRefreshDelay: a cacheDuration of seconds must not become a fetch
    per sign-in."""
    responses.get(METADATA_URL, body=resigned(keys_dir, metadata_xml(keys_dir),
                                              lambda root: root.set("cacheDuration", "PT5S")))
    clock = Clock()
    source = HubMetadataSource(hub_config(keys_dir, refresh_seconds=3600), shared_state, clock)
    source.current()
    clock.now += 30
    source.current()
    assert len(responses.calls) == 1
    clock.now += 31
    source.current()
    assert len(responses.calls) == 2


# Certificates: valid when read is not enough; each Response checks them against its time.

def _broker_config(tmp_path, keys_dir, redis_url):
    return load_config(write_config(tmp_path, keys_dir, Ports(18000, 18001, 18002), redis_url,
                                    f"test-{uuid.uuid4().hex[:12]}:"), environ={})


def _answer(keys_dir, config, flow: Flow, idp: saml.HubSigner, at: datetime) -> str:
    """The hub's Response at `at`: hub-signed, with `idp`'s two signed, encrypted assertions."""
    hub = saml.HubSigner(HUB_ENTITY_ID, (keys_dir / "hub-signing.key").read_text(),
                         (keys_dir / "hub-signing.crt").read_text())
    jane = IDENTITIES["jane"]
    spec = saml.AssertionSpec(issuer=idp.entity_id, recipient=f"{HUB_ENTITY_ID}SAML2/SSO",
                              in_response_to=flow.saml.authn_request_id, pid=jane.pid,
                              level_uri=LevelOfAssurance.LEVEL_2.uri, dataset=jane.dataset,
                              issued_at=at)
    encryption = config.saml.encryption[0].cert_pem
    body = (saml.signed_encrypted_assertion(spec.authn_xml(), idp, encryption)
            + saml.signed_encrypted_assertion(spec.xml(), idp, encryption))
    return saml.encode(saml.sign(saml.response_xml(HUB_ENTITY_ID, config.acs_url,
                                                   flow.saml.authn_request_id, body, issue_instant=at),
                                 hub.key_pem, hub.cert_pem))


@responses.activate
def test_an_identity_provider_certificate_that_expires_after_the_metadata_was_read_is_refused(
        tmp_path, keys_dir, redis_url, shared_state):
    key, cert = issued_pair("an IDP key that expires tomorrow",
                            load_issuer(keys_dir, "demo-idp-ca"), days=1)
    idp = saml.HubSigner("https://idp-three.example.test/", key, cert)
    responses.get(METADATA_URL, body=metadata_xml(keys_dir, extra_idps=(idp,)))
    config = _broker_config(tmp_path, keys_dir, redis_url)
    clock = Clock()
    source = HubMetadataSource(hub_config(keys_dir, refresh_seconds=7 * 24 * 3600),
                               shared_state, clock)

    def sign_in(at: datetime):
        flow = Flow(id=uuid.uuid4().hex, client_id="council-app", authorize_params={},
                    saml=SamlRequest("_" + uuid.uuid4().hex),
                    minimum_level=LevelOfAssurance.LEVEL_1, created_at=int(at.timestamp()))
        return read_response(_answer(keys_dir, config, flow, idp, at),
                             flow.saml.authn_request_id, config, source.current(),
                             now=at.timestamp())

    assert isinstance(sign_in(datetime.fromtimestamp(clock.now, UTC)), UpstreamAnswer)
    clock.now += 25 * 3600  # the certificate has expired; the metadata text has not changed
    with pytest.raises(ResponseRejected, match="no signing certificate of the identity provider"):
        sign_in(datetime.fromtimestamp(clock.now, UTC))
    assert len(responses.calls) == 1


# Malformed signed values: invalid metadata, the last good copy kept, never a 500

MALFORMED = {
    "validUntil": lambda root: root.set("validUntil", "next tuesday"),
    "entity validUntil": lambda root: entity(root, IDP_ONE).set("validUntil", "2030-13-45T00:00Z"),
    "cacheDuration": lambda root: root.set("cacheDuration", "a fortnight"),
}


@pytest.mark.parametrize("edit", MALFORMED.values(), ids=MALFORMED)
def test_a_malformed_signed_time_is_invalid_metadata(keys_dir, edit):
    xml = resigned(keys_dir, metadata_xml(keys_dir), edit)
    with pytest.raises(MetadataError, match="is not a"):
        parse_hub_metadata(xml.encode(), hub_config(keys_dir))


@pytest.fixture
def broker_at(reconfigured):
    """A broker process (Flask's test client) reading the metadata from METADATA_URL, its shared
    copy under a Redis prefix of its own."""

    def build():
        config = reconfigured(**{"hub.metadata_url": METADATA_URL, "hub.local_copy_seconds": 0,
                                 "redis.key_prefix": f"test-{uuid.uuid4().hex[:12]}:"})
        return config, create_app(config).test_client()

    return build


@responses.activate
def test_malformed_metadata_keeps_the_last_good_copy_and_readiness_says_why(
        stack, keys_dir, broker_at):
    config, client = broker_at()
    good = metadata_xml(keys_dir)
    responses.get(METADATA_URL, body=good)
    start_flow_at(client, stack)
    responses.replace(responses.GET, METADATA_URL,
                      body=resigned(keys_dir, good, MALFORMED["validUntil"]))
    state = BrokerState(stack.redis, config.redis.key_prefix)
    state.save_hub_metadata(good, time.time() - config.hub.refresh_seconds - 1, 600)  # due

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert "'next tuesday' is not a SAML time" in ready.get_json()["checks"]["hub_metadata"][
        "last_error"]
    start_flow_at(client, stack)  # asserts a 200 hand-off to the hub
    assert len(responses.calls) == 2


@responses.activate
def test_malformed_metadata_and_no_good_copy_is_unavailable_not_a_server_error(
        stack, keys_dir, broker_at):
    _config, client = broker_at()
    responses.get(METADATA_URL, body=resigned(keys_dir, metadata_xml(keys_dir),
                                              MALFORMED["validUntil"]))
    ready = client.get("/readyz")
    assert ready.status_code == 503  # not ready: the designed answer, with the reason
    assert "is not a SAML time" in ready.get_json()["checks"]["hub_metadata"]["last_error"]
    page = client.get("/authorize", query_string={
        "response_type": "code", "client_id": "council-app",
        "redirect_uri": f"{stack.council_url}/callback", "scope": "openid", "state": "s",
        "nonce": "n", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256"})
    assert page.status_code == 503
    assert "Sorry, the service is unavailable" in page.get_data(as_text=True)


# The bound on how far ahead a document may be valid

def test_metadata_valid_for_a_hundred_years_is_refused(keys_dir):
    xml = metadata_xml(keys_dir, valid_for=timedelta(days=36500))
    with pytest.raises(MetadataError, match="more than 14 days ahead"):
        parse_hub_metadata(xml.encode(), hub_config(keys_dir))


def test_the_bound_is_configurable(keys_dir):
    xml = metadata_xml(keys_dir, valid_for=timedelta(days=20)).encode()
    with pytest.raises(MetadataError, match="hub.metadata_max_validity_days"):
        parse_hub_metadata(xml, hub_config(keys_dir))
    config = hub_config(keys_dir, metadata_max_validity_days=28)
    assert parse_hub_metadata(xml, config).entity_id == HUB_ENTITY_ID


@pytest.mark.parametrize("value, problem", [
    (0, "must be between 1 and 366 days"), (3650, "must be between 1 and 366 days"),
    ("a fortnight", "must be int, got str")])
def test_a_bad_metadata_lifetime_bound_is_one_line_naming_the_key(tmp_path, keys_dir, value,
                                                                  problem):
    path = write_config(tmp_path, keys_dir, Ports(18000, 18001, 18002), "redis://127.0.0.1:6379/0",
                        "t:", **{"hub.metadata_max_validity_days": value})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: hub.metadata_max_validity_days: {problem}"

