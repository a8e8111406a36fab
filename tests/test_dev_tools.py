"""The stub hub and the demo council app exist for development only."""

from __future__ import annotations

import pytest

from broker.devtools.council_app.app import CouncilAppConfig, create_council_app
from broker.devtools.stub_hub.app import ProductionRefused, create_stub_hub


def test_stub_hub_refuses_production_mode(stack):
    from dataclasses import replace

    with pytest.raises(ProductionRefused):
        create_stub_hub(replace(stack.hub, mode="production"))


def test_council_app_refuses_production_mode():
    with pytest.raises(ProductionRefused):
        create_council_app(CouncilAppConfig("http://localhost:1", "http://localhost:2", "a", "b",
                                            mode="production"))


def test_stub_hub_refuses_an_unsigned_authn_request(stack):
    import base64

    import requests

    unsigned = (f'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
                f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_x" Version="2.0" '
                f'IssueInstant="2026-01-01T00:00:00Z" Destination="{stack.hub.sso_url}">'
                f"<saml:Issuer>{stack.config.saml.entity_id}</saml:Issuer></samlp:AuthnRequest>")
    response = requests.post(stack.hub.sso_url, timeout=10, data={
        "SAMLRequest": base64.b64encode(unsigned.encode()).decode(), "RelayState": "r"})
    assert response.status_code == 400
    assert "not signed by the broker" in response.text


def test_two_demo_key_folders_never_share_redis_state(tmp_path):
    """A fresh checkout's demo must not read the metadata another checkout's demo (other keys)
    left in the same Redis."""
    from broker.config import load_config
    from broker.devtools.demo import demo_environ, demo_settings
    from broker.devtools.keys import ensure_demo_keys

    prefixes = []
    for name in ("checkout-a", "checkout-b"):
        settings = demo_settings({"BROKER_DEMO_KEYS": str(tmp_path / name),
                                  "BROKER_CONFIG": "config/demo.yaml"})
        ensure_demo_keys(settings["keys"])
        config = load_config(settings["config"], demo_environ(settings, environ={}))
        prefixes.append(config.redis.key_prefix)
    assert prefixes[0] != prefixes[1]
    assert all(prefix.startswith("broker-demo-") for prefix in prefixes)
