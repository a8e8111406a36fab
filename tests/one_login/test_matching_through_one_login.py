"""Matching runs unchanged on One Login's identity: the demo council app plays its council's
matching service (cycle 1, cycle 3, account creation), exactly as with the stub hub."""

from __future__ import annotations

import pytest
import requests

from broker.devtools.council_app.matching import CYCLE3_DEMO_ANSWER
from tests.council_app import (
    local_account,
    sign_in_through_one_login,
)
from tests.forms import submit
from tests.matching.conftest import CONTACT, CYCLE3


@pytest.fixture
def matching_one_login_stack(one_login_stack_factory, tmp_path):
    def changes(ports):
        council = ports.url("council")
        return {"councils.test-borough.matching": {
                    "service_url": f"{council}/matching/match", "timeout_seconds": 5,
                    "cycle3": CYCLE3, "contact": CONTACT,
                    "account_creation": {"url": f"{council}/matching/create-account",
                                         "attributes": ["first_name", "surname"]}},
                "database": {"url": f"sqlite:///{tmp_path / 'one-login-links.sqlite3'}",
                             "auto_upgrade": True}}

    return one_login_stack_factory(changes)


def browse(stack, choice: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    return browser, sign_in_through_one_login(stack, choice, browser)


def test_jane_is_matched_by_the_councils_matching_service_at_cycle1(matching_one_login_stack):
    browser, page = browse(matching_one_login_stack, "jane")
    assert "Jane Doe" in page.text
    assert local_account(browser, matching_one_login_stack) == "DBC-100001"


def test_sam_is_matched_after_the_cycle3_question(matching_one_login_stack):
    browser, page = browse(matching_one_login_stack, "sam")
    assert 'data-page="cycle3"' in page.text
    signed_in = submit(browser, page, "cycle3", answer=CYCLE3_DEMO_ANSWER)
    assert "Sam Mover" in signed_in.text
    assert local_account(browser, matching_one_login_stack) == "DBC-100002"


def test_the_second_sign_in_is_matched_from_the_link(matching_one_login_stack):
    browse(matching_one_login_stack, "jane")
    browser, page = browse(matching_one_login_stack, "jane")
    assert "Jane Doe" in page.text
    links = matching_one_login_stack.broker_app.extensions["broker"].matching.links
    assert len(links.find("test-borough")) == 1
