"""`broker check-config` with the OIDC4IDA upstream: the provider's documents fetched as a sign-in
would, and one line naming the key when the provider cannot serve this configuration."""

from __future__ import annotations

import pytest

from broker.devtools.stub_openid_ida.app import StubOpenIdIdaConfig, create_stub_openid_ida
from tests.conftest import _serve, free_port
from tests.openid_ida.conftest import IDA_CLIENT_ID, openid_ida_settings
from tests.operators.conftest import run_cli


@pytest.fixture
def stub_url():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(create_stub_openid_ida(StubOpenIdIdaConfig(
        base_url=url, client_id=IDA_CLIENT_ID, redirect_uris=())), port)
    yield url
    server.shutdown()


def test_a_provider_that_offers_what_the_configuration_needs_passes(operator_config, keys,
                                                                    stub_url):
    path = operator_config(**openid_ida_settings(keys, stub_url))
    result = run_cli("check-config", str(path))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_trust_framework_the_provider_does_not_offer_is_a_warning(operator_config, keys,
                                                                    stub_url):
    path = operator_config(**openid_ida_settings(keys, stub_url, levels=[
        {"trust_framework": "eidas", "assurance_level": "substantial", "level": "LEVEL_2"}]))
    result = run_cli("check-config", str(path))

    assert result.returncode == 0, result.stderr
    assert "openid_ida.levels[0].trust_framework" in result.stderr and "eidas" in result.stderr


def test_an_unreachable_provider_is_one_line_naming_the_issuer(operator_config, keys):
    path = operator_config(**openid_ida_settings(keys, f"http://127.0.0.1:{free_port()}"))
    result = run_cli("check-config", str(path))

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "openid_ida" in line]
    assert len(lines) == 1 and lines[0].startswith(f"{path}: openid_ida.issuer: ")
