"""Production mode where it matters: `broker serve` refuses at start what `check-config` refuses
(one set of checks), and the stand-ins (stub hub, demo council app) refuse a production file."""

from __future__ import annotations

import json

import pytest
import yaml

from broker.config import load_config, placeholder_secret
from broker.devtools.demo import stub_hub_config
from broker.devtools.stub_hub.app import ProductionRefused, create_stub_hub
from tests.operators.conftest import ROOT, run_cli

HTTPS = {"issuer": "https://signin.example.gov.uk",
         "saml.entity_id": "https://signin.example.gov.uk/saml/metadata"}


def serve_refusals(result) -> list[str]:
    return [json.loads(line)["message"].removeprefix("start refused: ")
            for line in result.stderr.splitlines() if line.strip()]


def check_and_serve(path) -> tuple[list[str], list[str]]:
    """What check-config and serve each say about the file; both must refuse it (exit 2)."""
    check = run_cli("check-config", "--offline", str(path))
    serve = run_cli("serve", str(path), "--port", "1")
    assert (check.returncode, serve.returncode) == (2, 2), (check.stderr, serve.stderr)
    return check.stderr.strip().splitlines(), serve_refusals(serve)


def test_an_http_issuer_is_refused_in_production_by_check_config_and_serve(operator_config):
    path = operator_config(mode="production")
    checked, served = check_and_serve(path)
    assert checked == served == [
        f"{path}: issuer: must be https in production mode, got 'http://127.0.0.1:18100'"]


def test_an_http_redirect_uri_for_another_host_stops_serve_as_it_fails_check_config(
        operator_config):
    path = operator_config(mode="production", **HTTPS, clients=[{
        "client_id": "app", "council": "test-borough", "client_secret": "s",
        "redirect_uris": ["http://app.example.gov.uk/cb"]}])
    checked, served = check_and_serve(path)
    assert checked == served == [
        f"{path}: clients[0].redirect_uris[0]: must be https (http only for localhost and "
        "127.0.0.1), got 'http://app.example.gov.uk/cb'"]


def test_a_key_that_does_not_match_its_certificate_stops_serve(operator_config, keys):
    path = operator_config(**{"saml.signing": {"key": str(keys / "hub-signing.key"),
                                               "cert": str(keys / "broker-saml-signing.crt")}})
    checked, served = check_and_serve(path)
    assert checked == served
    assert "saml.signing.key: private key does not match the certificate" in served[0]


def test_the_stub_hub_refuses_a_production_configuration(operator_config, keys):
    config = load_config(operator_config(mode="production", **HTTPS), environ={})
    with pytest.raises(ProductionRefused, match="production configuration"):
        create_stub_hub(stub_hub_config(config, keys, "http://127.0.0.1:18101"))


def test_broker_stub_hub_refuses_a_production_file_without_broker_mode_set(operator_config, keys):
    path = operator_config(mode="production", **HTTPS)
    result = run_cli("stub-hub", "--config", str(path), "--keys", str(keys), "--port", "1")
    assert result.returncode == 2
    assert "The stub hub is for development and tests only" in result.stderr


def test_broker_demo_council_refuses_a_production_file(operator_config):
    path = operator_config(mode="production", **HTTPS)
    result = run_cli("demo-council", "--config", str(path), "--port", "1")
    assert result.returncode == 2
    assert "The demo council app is for development and tests only" in result.stderr


def test_broker_stub_hub_never_makes_keys_it_is_not_given(operator_config, tmp_path):
    empty = tmp_path / "no-keys"
    result = run_cli("stub-hub", "--config", str(operator_config()), "--keys", str(empty),
                     "--port", "1")
    assert result.returncode == 2
    assert f"make them with `broker dev-keys {empty}`" in result.stderr
    assert not empty.exists()


def test_broker_stub_hub_help_names_what_it_needs():
    text = run_cli("stub-hub", "--help").stdout
    for option in ("--config", "--keys", "--port", "--url", "--host"):
        assert option in text


@pytest.mark.parametrize("secret", ["change-me", "CHANGE_ME", "changeme-please", "secret",
                                    "xxxxxxxx", "conformance-basic-secret", "<replace-me>"])
def test_production_refuses_a_placeholder_client_secret(operator_config, secret):
    path = operator_config(mode="production", **HTTPS, **{"clients": [{
        "client_id": "app", "council": "test-borough", "client_secret": secret,
        "redirect_uris": ["https://app.example.gov.uk/cb"]}]})
    checked, served = check_and_serve(path)
    assert checked == served
    [line] = served
    assert line.startswith(f"{path}: clients[0].client_secret: is a placeholder")
    assert f"{secret!r}" not in line and f" {secret} " not in line, "a secret is never echoed"


def test_the_example_files_client_secret_is_refused_in_production():
    raw = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    secrets = [client["client_secret"] for client in raw["clients"] if "client_secret" in client]
    assert secrets == ["change-me"]
    assert all(placeholder_secret(secret) for secret in secrets)


def test_development_accepts_the_example_placeholder(operator_config):
    path = operator_config(**{"clients": [{
        "client_id": "app", "council": "test-borough", "client_secret": "change-me",
        "redirect_uris": ["https://app.example.gov.uk/cb"]}]})
    assert load_config(path, environ={}).clients["app"].client_secret == "change-me"


@pytest.mark.parametrize("name, key", [
    ("broker-saml-signing.key", "saml.signing.key"),
    ("broker-saml-encryption.key", "saml.encryption[0].key"),
    ("broker-oidc-signing-rsa.jwk.json", "oidc.signing_keys[1].file"),
    ("broker-data-key.jwk.json", "data_keys[0].file")])
def test_production_refuses_a_private_key_file_others_can_read(operator_config, keys, name, key):
    path = operator_config(mode="production", **HTTPS)
    (keys / name).chmod(0o644)
    checked, served = check_and_serve(path)
    assert checked == served == [
        f"{path}: {key}: {keys / name} is open to other users (mode 0644): make it 0600, owned by "
        "the broker's user (or 0640, owned by root and the broker's group)"]


def test_production_accepts_a_key_the_brokers_group_reads_when_root_owns_it(operator_config, keys):
    path = operator_config(mode="production", **HTTPS)
    (keys / "broker-saml-signing.key").chmod(0o640)
    owned_by_root = (keys / "broker-saml-signing.key").stat().st_uid == 0
    assert (run_cli("check-config", "--offline", str(path)).returncode == 0) == owned_by_root
    (keys / "broker-saml-signing.key").chmod(0o644)
    assert load_config(operator_config(**HTTPS), environ={}).mode == "development", \
        "development does not judge permissions"
