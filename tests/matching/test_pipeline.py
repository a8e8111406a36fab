"""The pipeline on its own: outcomes that need no browser to specify."""

from __future__ import annotations

from broker.config import CouncilConfig
from broker.config.councils import read_matching
from broker.config.reader import Reader
from broker.devtools.stub_hub.identities import IDENTITIES
from broker.identity import VerifiedIdentity
from broker.matching.database import make_engine
from broker.matching.links import LinkStore
from broker.matching.pipeline import MatchingPipeline, NoMatchingConfigured, Unavailable
from tests.matching.conftest import matching_config

JANE = VerifiedIdentity("e" * 64, IDENTITIES["jane"].level, IDENTITIES["jane"].dataset,
                        "https://idp.example", 0)


def council(matching=None) -> CouncilConfig:
    return CouncilConfig("test-borough", "Test Borough", "https://test-borough.example", None,
                         matching)


def never_called(_config):
    raise AssertionError("the matching service must not be called")


def test_council_with_matching_none_is_not_matched_and_nothing_is_called():
    pipeline = MatchingPipeline(links=None, client_factory=never_called)
    assert pipeline.start(council(), JANE, "m") == NoMatchingConfigured()


def test_link_store_down_is_unavailable_and_the_service_is_not_called(tmp_path):
    matching = read_matching(Reader("test", tmp_path), matching_config(),
                             "councils.test-borough.matching.")
    unreachable = LinkStore(make_engine("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2"))
    pipeline = MatchingPipeline(unreachable, client_factory=never_called)
    assert pipeline.start(council(matching), JANE, "m") == Unavailable("link store")


def test_the_councils_dataset_schema_reaches_its_client(tmp_path):
    from broker.matching.local_matching import DatasetSchema
    from broker.matching.pipeline import default_client

    reader = Reader("test", tmp_path)
    prefix = "councils.test-borough.matching."
    assert default_client(read_matching(reader, matching_config(), prefix)).dataset_schema is (
        DatasetSchema.LEGACY)
    universal = read_matching(reader, matching_config(dataset_schema="universal"), prefix)
    assert default_client(universal).dataset_schema is DatasetSchema.UNIVERSAL
