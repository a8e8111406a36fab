"""Configuration: typed, validated at start-up, and explicit about what is wrong."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis
import yaml

from broker.config import PUBLISHED_SECRET_KEYS, ConfigError, load_config
from broker.state import connect
from tests.conftest import Ports, write_config

PORTS = Ports(18000, 18001, 18002)


def config_file(tmp_path, keys_dir, **overrides):
    return write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:", **overrides)


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "broker.cli", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_valid_configuration_loads_into_typed_objects(tmp_path, keys_dir):
    config = load_config(config_file(tmp_path, keys_dir), environ={})
    assert config.issuer == PORTS.url("broker")
    assert config.clients["council-app"].redirect_uris == (f"{PORTS.url('council')}/callback",)
    assert config.saml.clock_skew_seconds == 30


def test_environment_overrides_issuer_and_redis_url(tmp_path, keys_dir):
    config = load_config(config_file(tmp_path, keys_dir), environ={
        "BROKER_ISSUER": "https://broker.example.gov.uk", "BROKER_REDIS_URL": "redis://r:6379/1"})
    assert config.issuer == "https://broker.example.gov.uk"
    assert config.redis.url == "redis://r:6379/1"


@pytest.mark.parametrize("key, value, message", [
    ("issuer", "not a url", "issuer: must be an http(s) URL"),
    ("saml.clock_skew_seconds", 1000, "saml.clock_skew_seconds: must be between 0 and 300"),
    ("oidc.signing_key", "/nonexistent.jwk", "oidc.signing_key: file not found"),
    ("clients", [{"client_id": "x", "council": "nowhere", "client_secret": "s",
                  "redirect_uris": ["https://x.example/cb"]}],
     "clients[0].council: unknown council 'nowhere'"),
    ("mode", "staging", "mode: must be development or production"),
])
def test_invalid_configuration_names_file_key_and_problem(tmp_path, keys_dir, key, value,
                                                          message):
    path = config_file(tmp_path, keys_dir, **{key: value})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: {message}" or str(error.value).startswith(
        f"{path}: {message}")


def test_check_config_exits_2_with_one_line_naming_file_key_and_problem(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"saml.clock_skew_seconds": "soon"})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and "saml.clock_skew_seconds" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("truststores_too", [False, True])
def test_the_retired_hub_trust_anchor_is_refused_in_one_line_pointing_at_the_truststores(
        tmp_path, keys_dir, truststores_too):
    path = config_file(tmp_path, keys_dir, **{
        "hub.trust_anchor": str(keys_dir / "federation-metadata-signing.crt")})
    if not truststores_too:  # a file from before the truststores, as an upgrade meets it
        raw = yaml.safe_load(path.read_text())
        del raw["hub"]["truststores"]
        path.write_text(yaml.safe_dump(raw))
    result = run_cli("check-config", "--offline", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: hub.trust_anchor: replaced by hub.truststores (metadata, hub, idp: CA "
        "certificate bundles); see docs/operations.md"]


def test_a_councils_hashing_entity_id_defaults_to_its_entity_id(tmp_path, keys_dir):
    default = load_config(config_file(tmp_path, keys_dir), environ={})
    assert default.councils["test-borough"].pid_hashing_entity_id == \
        "https://test-borough.example.gov.uk"
    configured = load_config(config_file(tmp_path, keys_dir, **{
        "councils.test-borough.hashing_entity_id": "https://msa.test-borough.example/"}),
        environ={})
    assert configured.councils["test-borough"].pid_hashing_entity_id == \
        "https://msa.test-borough.example/"


def test_check_config_accepts_a_valid_file(tmp_path, keys_dir):
    # --offline: this file names a hub and a Redis that are not running (tests/operators checks them)
    result = run_cli("check-config", "--offline", str(config_file(tmp_path, keys_dir)))
    assert result.returncode == 0, result.stderr


def test_malformed_yaml_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("issuer: [unclosed\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert "not valid YAML" in str(error.value)


def test_production_refuses_the_embedded_store(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, mode="production", secret_key="x" * 40,
                       **{"redis.embedded_fallback": True})
    with pytest.raises(ConfigError, match="redis.embedded_fallback: not allowed in production"):
        load_config(path, environ={})


@pytest.mark.parametrize("published", sorted(PUBLISHED_SECRET_KEYS))
def test_production_refuses_a_secret_key_published_in_the_repository(tmp_path, keys_dir,
                                                                     published):
    path = config_file(tmp_path, keys_dir, mode="production", secret_key=published)
    with pytest.raises(ConfigError, match="secret_key: is a value published"):
        load_config(path, environ={})


def test_every_secret_key_written_in_the_repository_is_on_the_refused_list():
    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.split()
    pattern = re.compile(r"""(?:secret_key["']?\s*[:=]\s*["']?|BROKER_SECRET_KEY:-)"""
                         r"""([A-Za-z0-9_\-]{16,})""")
    found = set()
    for name in files:
        path = root / name
        if path.suffix in (".py", ".yaml", ".yml", ".md", ".toml", ".env", ".cfg") or \
                path.name in ("Dockerfile", "Makefile"):
            found |= set(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    assert "demo-only-secret-key-change-me-in-any-real-deployment" in found
    assert found <= PUBLISHED_SECRET_KEYS | {"secret_key"}, found - PUBLISHED_SECRET_KEYS


def test_a_claims_allow_list_naming_an_unknown_claim_stops_start_up(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir)
    data = yaml.safe_load(path.read_text())
    data["clients"][0]["claims"] = ["given_name", "birth_date"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"clients\[0\]\.claims: unknown claim 'birth_date'"):
        load_config(path, environ={})


def test_production_needs_an_rsa_signing_key(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, mode="production", secret_key="x" * 40, **{
        "oidc.signing_key": str(keys_dir / "broker-oidc-signing.jwk.json")})
    with pytest.raises(ConfigError, match="oidc.signing_key: needs an RSA key that signs"):
        load_config(path, environ={})


def test_demo_falls_back_to_the_in_process_store_when_no_redis_answers(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"redis.url": "redis://127.0.0.1:1/0",
                                              "redis.embedded_fallback": True})
    config = load_config(path, environ={})
    client = connect(config.redis, allow_embedded=True)
    assert client.set("k", "v") and client.get("k") == b"v"


def test_without_fallback_an_absent_redis_stops_start_up(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"redis.url": "redis://127.0.0.1:1/0"})
    config = load_config(path, environ={})
    with pytest.raises(redis.RedisError):
        connect(config.redis, allow_embedded=False)


def test_example_configuration_documents_every_top_level_section():
    example = yaml.safe_load(open("config/example.yaml"))
    assert set(example) >= {"mode", "issuer", "secret_key", "redis", "saml", "hub", "oidc",
                            "councils", "clients"}


@pytest.mark.parametrize("key, value, message", [
    ("redis.key_prefx", "other:", "redis.key_prefx: unknown key (did you mean key_prefix?)"),
    ("saml.clock_skew_second", 60,
     "saml.clock_skew_second: unknown key (did you mean clock_skew_seconds?)"),
    ("hub.refresh_second", 60, "hub.refresh_second: unknown key (did you mean refresh_seconds?)"),
    ("clients.0.post_logout_redirect_uri", ["https://x.example/"],
     "clients[0].post_logout_redirect_uri: unknown key (did you mean post_logout_redirect_uris?)"),
    ("councils.test-borough.servce_url", "https://x.example/",
     "councils.test-borough.servce_url: unknown key (did you mean service_url?)"),
    ("rate_limits", {"authorize": {"per_ipp": "1/second"}},
     "rate_limits.authorize.per_ipp: unknown key (did you mean per_ip?)"),
    ("proxi", {"trusted_hops": 1}, "proxi: unknown key (did you mean proxy?)"),
    ("councils.test-borough.hashing_entityid", "https://msa.example/",
     "councils.test-borough.hashing_entityid: unknown key (did you mean hashing_entity_id?)"),
    ("hub.sso_urls", "https://hub.example/sso", "hub.sso_urls: unknown key (did you mean sso_url?)"),
])
def test_an_unknown_key_anywhere_is_refused_with_the_nearest_known_name(tmp_path, keys_dir, key,
                                                                        value, message):
    path = config_file(tmp_path, keys_dir)
    raw = yaml.safe_load(path.read_text())
    *parents, last = key.split(".")
    node = raw
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: {message}"


def test_an_unknown_key_in_a_matching_section_is_refused(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"councils.test-borough.matching": {
        "service_url": "https://match.example/", "contact": {"phone": "0300"},
        "timeout_second": 5}})
    with pytest.raises(ConfigError, match=r"councils\.test-borough\.matching\.timeout_second: "
                                          r"unknown key \(did you mean timeout_seconds\?\)"):
        load_config(path, environ={})


def test_an_unknown_key_with_no_near_name_lists_the_known_ones(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"proxy": {"trusted_hops": 1, "colour": "blue"}})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: proxy.colour: unknown key (known here: trusted_hops)"


def test_names_that_are_data_are_not_judged_as_keys(tmp_path, keys_dir):
    """Council ids, contact details and an inline JWKS are the operator's data, not schema."""
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "any-name"}]}
    path = config_file(tmp_path, keys_dir, **{
        "councils.test-borough.matching": {"service_url": "https://match.example/",
                                           "contact": {"any label at all": "0300 000 0000"}},
        "clients": [{"client_id": "jwt-app", "council": "test-borough",
                     "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks,
                     "redirect_uris": ["https://app.example/cb"]}]})
    config = load_config(path, environ={})
    assert config.clients["jwt-app"].jwks["keys"][0]["kid"] == "any-name"


def test_a_misspelled_required_key_names_the_unknown_key_found(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir)
    raw = yaml.safe_load(path.read_text())
    raw["isuer"] = raw.pop("issuer")
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: isuer: unknown key (did you mean issuer?)"


def test_an_unset_environment_variable_is_named(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, secret_key="${BROKER_TEST_COOKIE_SECRET}")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value).startswith(
        f"{path}: secret_key: environment variable BROKER_TEST_COOKIE_SECRET is not set")
    config = load_config(path, environ={"BROKER_TEST_COOKIE_SECRET": "s" * 40})
    assert config.secret_key == "s" * 40


def test_a_variable_with_a_default_and_an_overridden_key_need_not_be_set(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, secret_key="${BROKER_TEST_UNSET_SECRET}",
                       **{"redis.key_prefix": "${BROKER_TEST_UNSET_PREFIX:-t:}"})
    config = load_config(path, environ={"BROKER_SECRET_KEY": "k" * 40})
    assert config.secret_key == "k" * 40 and config.redis.key_prefix == "t:"


def test_an_unclosed_quote_is_reported_at_the_line_that_opens_it(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text('mode: development\nissuer: "https://broker.example\nsecret_key: x\n'
                    'redis:\n  url: redis://127.0.0.1:6379/0\n')
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "line 2", str(error.value)


def test_a_misplaced_key_is_reported_at_its_own_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("mode: development\nredis:\n  url: redis://x\n   key_prefix: y\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "line 4", str(error.value)


def test_check_config_and_serve_both_refuse_an_unknown_key(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"redis.key_prefx": "other:"})
    expected = f"{path}: redis.key_prefx: unknown key (did you mean key_prefix?)"
    check = run_cli("check-config", "--offline", str(path))
    assert check.returncode == 2 and check.stderr.strip() == expected
    serve = run_cli("serve", str(path), "--port", "1")
    assert serve.returncode == 2
    assert [json.loads(line)["message"] for line in serve.stderr.splitlines()] == [
        f"start refused: {expected}"]


def test_the_loaded_configuration_holds_plain_dicts(tmp_path, keys_dir):
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}
    path = config_file(tmp_path, keys_dir, clients=[{
        "client_id": "jwt-app", "council": "test-borough", "jwks": jwks,
        "token_endpoint_auth_method": "private_key_jwt", "redirect_uris": ["https://a.example/cb"]}])
    client = load_config(path, environ={}).clients["jwt-app"]
    assert type(client.jwks) is dict and type(client.jwks["keys"][0]) is dict
    assert yaml.safe_dump(client.jwks)


def test_signing_keys_and_the_one_key_shorthand_together_are_refused(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{"oidc.signing_keys": [
        {"file": str(keys_dir / "broker-oidc-signing.jwk.json")}]})
    raw = yaml.safe_load(path.read_text())
    raw["oidc"]["signing_key"] = str(keys_dir / "broker-oidc-signing.jwk.json")
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == f"{path}: oidc.signing_key: give signing_keys or signing_key, not both"


@pytest.mark.parametrize("key", ["accessibility_statement_url", "privacy_notice_url"])
def test_production_needs_each_councils_accessibility_statement_and_privacy_notice(
        tmp_path, keys_dir, key):
    path = config_file(tmp_path, keys_dir, mode="production", **{f"councils.test-borough.{key}": None})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == f"councils.test-borough.{key}"
    assert "required" in error.value.problem


def test_development_starts_without_the_footer_links(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{
        "councils.test-borough.accessibility_statement_url": None,
        "councils.test-borough.privacy_notice_url": None})
    brand = load_config(path, environ={}).councils["test-borough"].brand
    assert brand.accessibility_statement_url is None and brand.privacy_notice_url is None


def test_the_councils_footer_links_and_contact_are_on_its_brand(tmp_path, keys_dir):
    brand = load_config(config_file(tmp_path, keys_dir), environ={}).councils["test-borough"].brand
    assert brand.accessibility_statement_url == f"{PORTS.url('council')}/accessibility"
    assert brand.privacy_notice_url == f"{PORTS.url('council')}/privacy"
    assert dict(brand.contact) == {"phone": "0300 555 0100", "email": "help@test-borough.example"}


def test_the_councils_contact_defaults_to_its_matching_contact(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{
        "councils.test-borough.contact": None,
        "councils.test-borough.matching": {"service_url": "https://m.example/match",
                                           "contact": {"phone": "01234 567890"}}})
    brand = load_config(path, environ={}).councils["test-borough"].brand
    assert brand.contact == (("phone", "01234 567890"),)


def test_a_footer_link_must_be_a_web_address(tmp_path, keys_dir):
    path = config_file(tmp_path, keys_dir, **{
        "councils.test-borough.privacy_notice_url": "privacy.html"})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "councils.test-borough.privacy_notice_url"
