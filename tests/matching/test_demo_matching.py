"""The demo council app plays its council's matching service: each stub-hub identity shows one
branch, driven like a browser without JavaScript through broker, stub hub and council app."""

from __future__ import annotations

import pytest
import requests

from broker.devtools.council_app.matching import CYCLE3_DEMO_ANSWER
from tests.council_app import (
    local_account,
    sign_in_through_the_hub,
    signed_in_subject,
)
from tests.forms import submit
from tests.matching.conftest import CONTACT, CYCLE3


@pytest.fixture
def demo_stack(stack_factory, tmp_path):
    def changes(ports):
        council = ports.url("council")
        return {"councils.test-borough.matching": {
                    "service_url": f"{council}/matching/match", "timeout_seconds": 5,
                    "cycle3": CYCLE3, "contact": CONTACT,
                    "account_creation": {"url": f"{council}/matching/create-account"}},
                "database": {"url": f"sqlite:///{tmp_path / 'demo-links.sqlite3'}",
                             "auto_upgrade": True},
                "clients.0.default_level": "LEVEL_1"}  # as config/demo.yaml: Lee may sign in

    return stack_factory(changes)


def browse_to_broker(stack, choice: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    return browser, sign_in_through_the_hub(stack, choice, browser)


def test_jane_matches_at_cycle1(demo_stack):
    browser, page = browse_to_broker(demo_stack, "jane")
    assert "Jane Doe" in page.text
    assert local_account(browser, demo_stack) == "DBC-100001"


def test_sam_needs_the_cycle3_answer_the_demo_page_gives(demo_stack):
    browser, page = browse_to_broker(demo_stack, "sam")
    assert 'data-page="cycle3"' in page.text
    records = browser.get(f"{demo_stack.council_url}/records", timeout=10).text
    assert CYCLE3_DEMO_ANSWER in records
    signed_in = submit(browser, page, "cycle3", answer=CYCLE3_DEMO_ANSWER)
    assert "Sam Mover" in signed_in.text
    assert local_account(browser, demo_stack) == "DBC-100002"


def test_dmitri_gets_a_new_account_after_the_extra_question(demo_stack):
    browser, page = browse_to_broker(demo_stack, "dmitri")
    signed_in = submit(browser, page, "cycle3", answer="99999999")
    assert "Дмитрий Иванов" in signed_in.text
    assert local_account(browser, demo_stack).startswith("DBC-2")


def test_lee_is_never_matched_and_meets_the_councils_contacts(demo_stack):
    browser, page = browse_to_broker(demo_stack, "lee")
    not_found = submit(browser, page, "cycle3", answer="99999999")
    assert 'data-page="no-record"' in not_found.text
    assert CONTACT["phone"] in not_found.text


def test_second_sign_in_is_matched_from_the_link(demo_stack):
    browser, page = browse_to_broker(demo_stack, "dmitri")
    submit(browser, page, "cycle3", answer="99999999")
    first_account = local_account(browser, demo_stack)
    browser, page = browse_to_broker(demo_stack, "dmitri")
    assert "Дмитрий Иванов" in page.text  # no question the second time
    assert local_account(browser, demo_stack) == first_account
    links = demo_stack.broker_app.extensions["broker"].matching.links.find("test-borough")
    assert [(link.hashed_pid, link.local_account_id) for link in links] == [(signed_in_subject(page), None)]


def test_the_demo_service_answers_only_what_verifys_contract_allows(demo_stack):
    """A bare match, nothing more: the council app knows Jane by the `sub` it was given."""
    body = {"matchId": "m", "levelOfAssurance": "LEVEL_2", "hashedPid": "d" * 64,
            "matchingDataset": {"surnames": [{"value": "Doe", "verified": True}],
                                "dateOfBirth": {"value": "1980-05-01", "verified": True},
                                "addresses": [{"lines": [], "postCode": "AB1 2CD",
                                               "verified": True}]}}
    answer = requests.post(f"{demo_stack.council_url}/matching/match", json=body, timeout=10)
    assert answer.json() == {"result": "match"}
    created = requests.post(f"{demo_stack.council_url}/matching/create-account",
                            json={"hashedPid": "e" * 64, "levelOfAssurance": "LEVEL_2"}, timeout=10)
    assert created.json() == {"result": "success"}
