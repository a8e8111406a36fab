"""Helpers for the hub-side tests: start a flow, post a Response, and say what the resident saw."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import lxml.html
import pytest
import requests

from broker.devtools.stub_hub import saml
from broker.state import BrokerState
from broker.web.pages import PAGES
from tests.forms import link
from tests.oidc_client import AuthorizationAttempt, authorize, post_to_acs, query


@dataclass
class Outcome:
    """What came back from the assertion consumer service, and why (from the broker's log)."""

    response: requests.Response
    attempt: AuthorizationAttempt
    log: str

    @property
    def page(self) -> str | None:
        found = lxml.html.fromstring(self.response.text).xpath("//*[@data-page]/@data-page") \
            if self.response.text else []
        return found[0] if found else None

    @property
    def heading(self) -> str:
        return lxml.html.fromstring(self.response.text).xpath("//h1")[0].text_content().strip()

    def council_error(self) -> dict[str, str]:
        return query(link(self.response, "continue"))


@pytest.fixture
def shared_state(redis_client):
    """A BrokerState under a prefix of its own, removed afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield BrokerState(redis_client, prefix)
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


@pytest.fixture
def broker_log(caplog):
    caplog.set_level(logging.INFO, logger="broker")
    return caplog


@pytest.fixture
def send(stack, broker_log):
    """send(build) starts a flow, posts build(attempt) (XML text) to the ACS, returns an Outcome."""

    def send_(build, attempt: AuthorizationAttempt | None = None, **authorize_params) -> Outcome:
        attempt = attempt or authorize(stack, **authorize_params)
        broker_log.clear()
        xml = build(attempt)
        response = post_to_acs(stack, saml.encode(xml) if xml.lstrip().startswith("<") else xml,
                               attempt.relay_state)
        return Outcome(response, attempt, broker_log.text)

    return send_


def assert_rejected(outcome: Outcome, reason: str) -> None:
    """The resident sees the 'could not check your sign-in' page; the council gets access_denied."""
    assert outcome.response.status_code == 400, outcome.response.text
    assert "Location" not in outcome.response.headers
    assert outcome.heading == PAGES["rejected"].title
    assert reason in outcome.log, outcome.log
    error = outcome.council_error()
    assert error["error"] == "access_denied"
    assert error["state"] == outcome.attempt.state


def assert_signed_in(outcome: Outcome) -> None:
    assert outcome.response.status_code == 302, outcome.response.text
    assert "code" in query(outcome.response.headers["Location"]), outcome.log



@pytest.fixture
def reconfigured(stack, tmp_path, keys_dir, redis_url):
    """reconfigured(**overrides): the stack's broker configuration with changes, sharing its
    ports, hub and Redis prefix: what another broker process, configured differently (for
    example mid-rotation), would load. Overrides are write_config's dotted keys."""
    from broker.config import load_config
    from tests.conftest import write_config

    def build(**overrides):
        directory = tmp_path / f"reconfigured-{len(list(tmp_path.glob('reconfigured-*')))}"
        directory.mkdir()
        return load_config(write_config(directory, keys_dir, stack.ports, redis_url,
                                        stack.prefix, **overrides), environ={})

    return build


@dataclass
class ClientFlow:
    """A sign-in started at a broker process driven by Flask's test client."""

    authn_request_id: str
    relay_state: str
    saml_request: str
    state: str


def start_flow_at(client, stack, **params) -> ClientFlow:
    import base64
    import re
    import secrets

    from tests.conftest import COUNCIL_CLIENT_ID
    from tests.oidc_client import pkce_pair

    _, challenge = pkce_pair()
    state = secrets.token_urlsafe(12)
    query_params = {"response_type": "code", "client_id": COUNCIL_CLIENT_ID,
                    "redirect_uri": f"{stack.council_url}/callback", "scope": "openid profile",
                    "state": state, "nonce": secrets.token_urlsafe(12),
                    "code_challenge": challenge, "code_challenge_method": "S256", **params}
    page = client.get("/authorize", query_string=query_params)
    assert page.status_code == 200, page.get_data(as_text=True)
    document = lxml.html.fromstring(page.get_data(as_text=True))
    saml_request = document.xpath('//input[@name="SAMLRequest"]/@value')[0]
    xml = base64.b64decode(saml_request).decode()
    return ClientFlow(re.search(r'ID="([^"]+)"', xml).group(1),
                      document.xpath('//input[@name="RelayState"]/@value')[0], saml_request,
                      state)


def post_at(client, flow: ClientFlow, xml: str):
    """The hub's answer, and the broker's 303 to its continuation followed by the same browser."""
    response = client.post("/saml/acs", data={"SAMLResponse": saml.encode(xml),
                                              "RelayState": flow.relay_state})
    if response.status_code == 303:
        response = client.get(response.headers["Location"])
    return response
