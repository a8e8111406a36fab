"""Per-council matching configuration: validated at start-up, errors name file, key and problem."""

from __future__ import annotations

import pytest

from broker.config import ConfigError, load_config
from tests.conftest import Ports, write_config
from tests.matching.conftest import CYCLE3, matching_config

PORTS = Ports(18000, 18001, 18002)


def load(tmp_path, keys_dir, environ=None, **overrides):
    path = write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:", **overrides)
    return load_config(path, environ=environ or {})


def with_matching(tmp_path, keys_dir, **changes):
    matching = {**matching_config(cycle3=True, account_creation=True,
                                  account_creation_attributes=["first_name", "surname",
                                                               "date_of_birth"]), **changes}
    return load(tmp_path, keys_dir, **{"councils.test-borough.matching": matching})


def test_matching_configuration_loads_into_typed_objects(tmp_path, keys_dir):
    matching = with_matching(tmp_path, keys_dir).councils["test-borough"].matching
    assert matching.service_url == "https://matching.test-borough.example/match"
    assert matching.cycle3.label["cy"] == CYCLE3["label"]["cy"]
    assert matching.account_creation_attributes == ("first_name", "surname", "date_of_birth")
    assert matching.timeout_seconds == 2.0


def test_the_matching_service_speaks_verifys_legacy_schema_unless_told(tmp_path, keys_dir):
    assert with_matching(tmp_path, keys_dir).councils["test-borough"].matching.dataset_schema == (
        "legacy")
    universal = with_matching(tmp_path, keys_dir, dataset_schema="universal")
    assert universal.councils["test-borough"].matching.dataset_schema == "universal"


def test_account_creation_sends_no_attributes_unless_the_council_opts_in(tmp_path, keys_dir):
    matching = with_matching(tmp_path, keys_dir,
                             account_creation={"url": "https://x.example/c"})
    assert matching.councils["test-borough"].matching.account_creation_attributes == ()


def test_the_resident_is_asked_before_an_account_is_created_unless_the_council_says_not(
        tmp_path, keys_dir):
    default = with_matching(tmp_path, keys_dir).councils["test-borough"].matching
    assert default.account_creation_consent is True
    assert default.account_creation_consent_text is None
    off = with_matching(tmp_path, keys_dir, account_creation={
        "url": "https://x.example/c", "consent": False}).councils["test-borough"].matching
    assert off.account_creation_consent is False
    worded = with_matching(tmp_path, keys_dir, account_creation={
        "url": "https://x.example/c", "consent": {"text": {"en": "E", "cy": "C"}}})
    assert worded.councils["test-borough"].matching.account_creation_consent_text == {
        "en": "E", "cy": "C"}


def test_a_council_without_matching_gets_none(tmp_path, keys_dir):
    assert load(tmp_path, keys_dir).councils["test-borough"].matching is None


def test_matching_none_means_no_matching(tmp_path, keys_dir):
    config = load(tmp_path, keys_dir, **{"councils.test-borough.matching": "none"})
    assert config.councils["test-borough"].matching is None


@pytest.mark.parametrize("change, key, problem", [
    ({"service_url": "ftp://x"}, "matching.service_url", "http(s) URL"),
    ({"timeout_seconds": 0}, "matching.timeout_seconds", "more than 0"),
    ({"timeout_seconds": 600}, "matching.timeout_seconds", "at most 60"),
    ({"contact": {}}, "matching.contact", "contact details"),
    ({"cycle3": {**CYCLE3, "pattern": "(["}}, "matching.cycle3.pattern", "regular expression"),
    ({"cycle3": {**CYCLE3, "label": {"en": "Only English"}}}, "matching.cycle3.label", "`cy`"),
    ({"cycle3": {**CYCLE3, "attribute": "has space"}}, "matching.cycle3.attribute", "letters"),
    ({"account_creation": {"url": "https://x.example/c", "attributes": ["shoe_size"]}},
     "matching.account_creation.attributes", "unknown attribute"),
    ({"dataset_schema": "eidas"}, "matching.dataset_schema", "legacy, universal"),
    ({"account_creation": {"url": "https://x.example/c",
                           "consent": {"text": {"en": "Only English"}}}},
     "matching.account_creation.consent.text", "`cy`"),
    ({"account_creation": {"url": "https://x.example/c", "consent": "maybe"}},
     "matching.account_creation.consent", "bool/dict"),
], ids=["url", "timeout-zero", "timeout-long", "contact", "pattern", "welsh-label", "attribute",
        "creation-attribute", "dataset-schema", "consent-welsh", "consent-kind"])
def test_invalid_matching_configuration_names_the_key(tmp_path, keys_dir, change, key, problem):
    with pytest.raises(ConfigError) as error:
        with_matching(tmp_path, keys_dir, **change)
    assert error.value.key == f"councils.test-borough.{key}"
    assert problem in error.value.problem


def test_matching_that_is_neither_none_nor_a_mapping_is_refused(tmp_path, keys_dir):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, **{"councils.test-borough.matching": "yes please"})
    assert error.value.key == "councils.test-borough.matching"


def test_database_defaults_to_embedded_sqlite(tmp_path, keys_dir):
    assert load(tmp_path, keys_dir).database.url.startswith("sqlite:///")


def test_database_url_comes_from_the_environment(tmp_path, keys_dir):
    config = load(tmp_path, keys_dir, environ={"BROKER_DATABASE_URL": "postgresql://db/broker"})
    assert config.database.url == "postgresql://db/broker"


def test_database_url_must_be_sqlite_or_postgresql(tmp_path, keys_dir):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, database={"url": "mysql://db/broker"})
    assert error.value.key == "database.url"
