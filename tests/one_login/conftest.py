"""A broker whose upstream is the stub One Login, on real ports beside the usual stack."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from broker.devtools.stub_onelogin.app import StubOneLoginConfig, create_stub_onelogin
from tests.conftest import Stack, _serve, free_port
from tests.operators.conftest import keys, operator_config, prefix  # noqa: F401 - shared fixtures

ONE_LOGIN_CLIENT_ID = "broker-one-login-client"


@dataclass
class OneLoginStack:
    stack: Stack
    stub: StubOneLoginConfig

    def __getattr__(self, name):
        return getattr(self.stack, name)


def one_login_settings(keys_dir, stub_url: str) -> dict:
    return {"upstream": {"kind": "one_login"},
            "one_login": {"discovery_url": f"{stub_url}/.well-known/openid-configuration",
                          "client_id": ONE_LOGIN_CLIENT_ID,
                          "signing_keys": [{"file": str(keys_dir / "broker-onelogin-client.jwk.json")}],
                          "identity_issuer": f"{stub_url}/identity/",
                          "did_url": f"{stub_url}/.well-known/did.json"}}


@pytest.fixture
def one_login_stack_factory(stack_factory, keys_dir):
    servers = []

    def build(more_changes=None) -> OneLoginStack:
        port = free_port()
        stub_url = f"http://127.0.0.1:{port}"

        def changes(ports):
            return {**one_login_settings(keys_dir, stub_url),
                    **(more_changes(ports) if more_changes else {})}

        stack = stack_factory(changes)
        stub = StubOneLoginConfig(base_url=stub_url, client_id=ONE_LOGIN_CLIENT_ID,
                                  redirect_uris=(stack.config.one_login_redirect_uri,),
                                  client_jwks_uri=f"{stack.broker_url}/onelogin/jwks.json")
        servers.append(_serve(create_stub_onelogin(stub), port))
        return OneLoginStack(stack, stub)

    yield build
    for server in servers:
        server.shutdown()


@pytest.fixture
def one_login_stack(one_login_stack_factory) -> OneLoginStack:
    return one_login_stack_factory()


def answer_at_one_login(stack, session, attempt, choice: str = "jane"):
    """Follows /authorize's redirect to the stub One Login and picks `choice`; returns the
    response of One Login's redirect back to the broker (the callback URL, not followed)."""
    from tests.forms import form_fields

    assert attempt.response.status_code == 302, attempt.response.text
    chooser = session.get(attempt.response.headers["Location"], timeout=10)
    _method, action, fields = form_fields(chooser.text, "choose")
    fields["choice"] = choice
    answer = session.post(f"{stack.stub.base_url}{action}", data=fields, allow_redirects=False,
                          timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def sign_in_for_code(stack, choice: str = "jane", session=None, **authorize_params):
    """/authorize, One Login's answer and the broker's callback: the council app's parameters."""
    import requests

    from tests.oidc_client import authorize, query

    session = session or requests.Session()
    attempt = authorize(stack, session=session, **authorize_params)
    callback = answer_at_one_login(stack, session, attempt, choice)
    done = session.get(callback, allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.text
    return attempt, query(done.headers["Location"])
