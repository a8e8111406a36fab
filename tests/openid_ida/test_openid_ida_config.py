"""The `openid_ida` section: typed settings, and one-line errors naming file, key and problem."""

from __future__ import annotations

import pytest

from broker.config import ConfigError, load_config
from broker.identity import LevelOfAssurance
from tests.conftest import Ports, write_config

PORTS = Ports(18110, 18111, 18112)


def section(keys_dir, **changes) -> dict:
    values = {"issuer": "https://idp.example.com",
              "client_id": "broker-client",
              "signing_keys": [{"file": str(keys_dir / "broker-openid-ida-client.jwk.json")}],
              "levels": [{"trust_framework": "uk_tfida", "assurance_level": "medium",
                          "level": "LEVEL_2"}]}
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def load(tmp_path, keys_dir, **overrides):
    path = write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:", **overrides)
    return path, load_config(path, environ={"IDA_SECRET": "a-secret-from-the-environment"})


def test_the_section_loads_into_typed_settings(tmp_path, keys_dir):
    _path, config = load(tmp_path, keys_dir, upstream={"kind": "openid_ida"},
                         openid_ida=section(keys_dir, errors={"fraud_detected": "fraud"},
                                            verified_claims_in="id_token"))
    ida = config.openid_ida
    assert config.upstream == "openid_ida"
    assert ida.discovery_url == "https://idp.example.com/.well-known/openid-configuration"
    assert ida.client_auth == "private_key_jwt" and ida.signing_jwk["kty"] == "RSA"
    assert ida.levels[0].level is LevelOfAssurance.LEVEL_2
    assert ida.levels[0].assurance_level == "medium"
    assert ida.claims == ("given_name", "family_name", "birthdate", "address")
    assert ida.errors == (("fraud_detected", "fraud"),) and ida.verified_claims_in == "id_token"


def test_client_secret_basic_takes_its_secret_from_the_environment(tmp_path, keys_dir):
    _path, config = load(tmp_path, keys_dir, upstream={"kind": "openid_ida"},
                         openid_ida=section(keys_dir, signing_keys=None,
                                            client_auth="client_secret_basic",
                                            client_secret="${IDA_SECRET}"))
    assert config.openid_ida.client_secret == "a-secret-from-the-environment"
    assert "a-secret" not in repr(config.openid_ida)


@pytest.mark.parametrize("changes, message", [
    ({"issuer": None}, "openid_ida.issuer: is required"),
    ({"client_auth": "client_secret_post"}, "openid_ida.client_auth: must be private_key_jwt or "
                                            "client_secret_basic"),
    ({"client_assertion_alg": "HS256"}, "openid_ida.client_assertion_alg: must be one of"),
    ({"client_assertion_alg": "ES256"}, "openid_ida.signing_keys[0].file:"),
    ({"signing_keys": None}, "openid_ida.signing_keys: is required"),
    ({"signing_keys": None, "client_auth": "client_secret_basic", "client_secret": "short"},
     "openid_ida.client_secret: must be at least 16 characters"),
    ({"scopes": ["profile"]}, "openid_ida.scopes: must include openid"),
    ({"claims": ["given_name", "email"]}, "openid_ida.claims: must list claims from"),
    ({"verified_claims_in": "access_token"}, "openid_ida.verified_claims_in: must be userinfo "
                                             "or id_token"),
    ({"levels": []}, "openid_ida.levels: must map at least one trust framework"),
    ({"levels": [{"trust_framework": "uk_tfida", "level": "MEDIUM"}]},
     "openid_ida.levels[0].level: must be LEVEL_1"),
    ({"levels": [{"level": "LEVEL_2"}]}, "openid_ida.levels[0].trust_framework: is required"),
    ({"levels": [{"trust_framework": "x", "level": "LEVEL_2", "evidence": "document"}]},
     "openid_ida.levels[0].evidence: must be list"),
    ({"errors": {"fraud_detected": "stop"}}, "openid_ida.errors.fraud_detected: must be one of"),
    ({"clock_skew_seconds": 3600}, "openid_ida.clock_skew_seconds: must be between 0 and 300"),
    ({"levels": [{"trust_framework": "uk_tfida", "level": "LEVEL_2", "assurance": "medium"}]},
     "openid_ida.levels[0].assurance"),
])
def test_bad_settings_name_the_key_and_the_problem(tmp_path, keys_dir, changes, message):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, upstream={"kind": "openid_ida"},
             openid_ida=section(keys_dir, **changes))
    text = str(error.value)
    assert message in text and "broker.yaml: " in text and "\n" not in text


def test_the_section_is_required_for_its_kind(tmp_path, keys_dir):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, upstream={"kind": "openid_ida"})
    assert "openid_ida: is required" in str(error.value)


def test_production_needs_an_https_issuer(tmp_path, keys_dir):
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, mode="production", upstream={"kind": "openid_ida"},
             openid_ida=section(keys_dir, issuer="http://idp.example.com"))
    assert "openid_ida.issuer" in str(error.value)


def test_a_council_may_name_this_upstream_beside_the_brokers(tmp_path, keys_dir):
    council = {"councils.test-borough.upstream": "openid_ida"}
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, **council)
    assert "openid_ida: is required" in str(error.value)

    _path, config = load(tmp_path, keys_dir, openid_ida=section(keys_dir), **council)
    assert config.upstream == "verify" and config.openid_ida is not None
    assert config.councils["test-borough"].upstream == "openid_ida"
