"""Matching runs unchanged on an OIDC4IDA provider's verified claims: the demo council app plays its
council's matching service (cycle 1, cycle 3, then cycle 0 from the link), as with the stub hub."""

from __future__ import annotations

import pytest
import requests

from broker.devtools.council_app.matching import CYCLE3_DEMO_ANSWER
from tests.council_app import local_account
from tests.forms import submit
from tests.matching.conftest import CONTACT, CYCLE3
from tests.openid_ida.test_signin_through_openid_ida import sign_in


@pytest.fixture
def matching_ida_stack(ida_stack_factory, tmp_path):
    def changes(ports):
        council = ports.url("council")
        return {"councils.test-borough.matching": {
                    "service_url": f"{council}/matching/match", "timeout_seconds": 5,
                    "cycle3": CYCLE3, "contact": CONTACT},
                "database": {"url": f"sqlite:///{tmp_path / 'ida-links.sqlite3'}",
                             "auto_upgrade": True}}

    return ida_stack_factory(changes)


def browse(stack, choice: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    return browser, sign_in(stack, choice, browser)


def test_jane_is_matched_by_the_councils_matching_service_at_cycle1(matching_ida_stack):
    browser, page = browse(matching_ida_stack, "jane")

    assert "Jane Doe" in page.text
    assert local_account(browser, matching_ida_stack) == "DBC-100001"


def test_sam_is_matched_after_the_cycle3_question(matching_ida_stack):
    browser, page = browse(matching_ida_stack, "sam")
    assert 'data-page="cycle3"' in page.text
    signed_in = submit(browser, page, "cycle3", answer=CYCLE3_DEMO_ANSWER)

    assert "Sam Mover" in signed_in.text
    assert local_account(browser, matching_ida_stack) == "DBC-100002"


def test_the_second_sign_in_is_matched_from_the_link(matching_ida_stack):
    browse(matching_ida_stack, "jane")
    _browser, page = browse(matching_ida_stack, "jane")

    assert "Jane Doe" in page.text
    links = matching_ida_stack.broker_app.extensions["broker"].matching.links
    assert len(links.find("test-borough")) == 1
