"""Helpers for the hub-side tests: start a flow, post a Response, and say what the resident saw."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import lxml.html
import pytest
import requests

from broker.devtools.stub_hub import saml
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
