"""A broker whose upstream is an OIDC4IDA provider (the stub, or npm's oidc-provider), on real
ports beside the usual stack."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from broker.devtools.stub_openid_ida.app import StubOpenIdIdaConfig, create_stub_openid_ida
from tests.conftest import Stack, _serve, free_port
from tests.operators.conftest import keys, operator_config, prefix  # noqa: F401 - shared fixtures

IDA_CLIENT_ID = "broker-ida-client"
LEVELS = [{"trust_framework": "uk_tfida", "assurance_level": level, "level": name}
          for level, name in (("low", "LEVEL_1"), ("medium", "LEVEL_2"), ("high", "LEVEL_3"))]


@dataclass
class IdaStack:
    stack: Stack
    provider_url: str
    stub: StubOpenIdIdaConfig | None = None

    def __getattr__(self, name):
        return getattr(self.stack, name)


def openid_ida_settings(keys_dir, issuer: str, **changes) -> dict:
    section = {"issuer": issuer, "client_id": IDA_CLIENT_ID,
               "signing_keys": [{"file": str(keys_dir / "broker-openid-ida-client.jwk.json")}],
               "levels": LEVELS, "errors": {"fraud_detected": "fraud"},
               "claims": ["given_name", "middle_name", "family_name", "birth_family_name",
                          "birthdate", "address"]}
    section.update(changes)
    return {"upstream": {"kind": "openid_ida"}, "openid_ida": section}


@pytest.fixture
def ida_stack_factory(stack_factory, keys_dir):
    """Builds a broker with the stub OpenID provider upstream (private_key_jwt by the broker's
    published JWKS)."""
    servers = []

    def build(more_changes=None) -> IdaStack:
        port = free_port()
        url = f"http://127.0.0.1:{port}"

        def changes(ports):
            return {**openid_ida_settings(keys_dir, url),
                    **(more_changes(ports) if more_changes else {})}

        stack = stack_factory(changes)
        stub = StubOpenIdIdaConfig(base_url=url, client_id=IDA_CLIENT_ID,
                                   redirect_uris=(f"{stack.broker_url}/openid-ida/callback",),
                                   client_jwks_uri=f"{stack.broker_url}/openid-ida/jwks.json")
        servers.append(_serve(create_stub_openid_ida(stub), port))
        return IdaStack(stack, url, stub)

    yield build
    for server in servers:
        server.shutdown()


@pytest.fixture
def ida_stack(ida_stack_factory) -> IdaStack:
    return ida_stack_factory()
