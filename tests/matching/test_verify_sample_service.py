"""A council's Verify-era local matching service works behind the broker unchanged: residents sign
in to the council app through broker, stub hub and a matching service written only from Verify's
documentation (tests/matching/verify_sample_service.py), which refuses any request that strays
from the legacy JSON schema and answers nothing but `{"result": …}`."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import _serve, free_port
from tests.council_app import (
    sign_in_through_the_hub,
    signed_in_subject,
)
from tests.forms import submit
from tests.matching.conftest import CONTACT, CYCLE3, stack_links
from tests.matching.verify_sample_service import (
    CREATION_PATH,
    KNOWN_CYCLE3_VALUE,
    MATCH_PATH,
    SampleMatchingService,
)


@pytest.fixture
def sample_service():
    service = SampleMatchingService()
    port = free_port()
    server = _serve(service.app(), port)
    service.url = f"http://127.0.0.1:{port}"
    yield service
    server.shutdown()


@pytest.fixture
def verify_stack(stack_factory, tmp_path, sample_service):
    def changes(_ports):
        return {"councils.test-borough.matching": {
                    "service_url": f"{sample_service.url}{MATCH_PATH}", "timeout_seconds": 5,
                    "cycle3": CYCLE3, "contact": CONTACT,
                    "account_creation": {"url": f"{sample_service.url}{CREATION_PATH}"}},
                "database": {"url": f"sqlite:///{tmp_path / 'links.sqlite3'}",
                             "auto_upgrade": True},
                "clients.0.default_level": "LEVEL_1"}  # Lee (LEVEL_1) may sign in

    return stack_factory(changes)


def sign_in(stack, choice: str) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    return browser, sign_in_through_the_hub(stack, choice, browser)


def test_cycle1_match_on_surname_signs_the_resident_in(verify_stack, sample_service):
    _browser, page = sign_in(verify_stack, "jane")
    sub = signed_in_subject(page)
    [request] = sample_service.bodies(MATCH_PATH)
    assert "cycle3Dataset" not in request
    assert request["hashedPid"] == sub  # the council knows its resident by the `sub` it gets
    [link] = stack_links(verify_stack).find("test-borough")
    assert (link.hashed_pid, link.local_account_id) == (sub, None)


def test_cycle3_match_on_the_answer_signs_the_resident_in(verify_stack, sample_service):
    browser, page = sign_in(verify_stack, "sam")
    assert 'data-page="cycle3"' in page.text
    signed_in = submit(browser, page, "cycle3", answer=KNOWN_CYCLE3_VALUE)
    sub = signed_in_subject(signed_in)
    cycle1, cycle3 = sample_service.bodies(MATCH_PATH)
    assert cycle3["cycle3Dataset"] == {"attributes": {"council_tax_reference": KNOWN_CYCLE3_VALUE}}
    assert cycle1["matchId"] == cycle3["matchId"]
    assert cycle3["hashedPid"] == sub
    assert sample_service.bodies(CREATION_PATH) == []


def test_final_no_match_at_level_2_creates_an_account_and_signs_in(verify_stack, sample_service):
    browser, page = sign_in(verify_stack, "dmitri")
    signed_in = submit(browser, page, "cycle3", answer="99999999")
    sub = signed_in_subject(signed_in)
    assert sample_service.bodies(CREATION_PATH) == [{"hashedPid": sub,
                                                     "levelOfAssurance": "LEVEL_2"}]
    assert [link.hashed_pid for link in stack_links(verify_stack).find("test-borough")] == [sub]


def test_no_match_and_no_account_at_level_1_shows_the_councils_contacts(verify_stack,
                                                                       sample_service):
    browser, page = sign_in(verify_stack, "lee")
    not_found = submit(browser, page, "cycle3", answer="99999999")
    assert 'data-page="no-record"' in not_found.text
    assert CONTACT["phone"] in not_found.text
    assert [body["levelOfAssurance"] for body in sample_service.bodies(CREATION_PATH)] == ["LEVEL_1"]
    assert stack_links(verify_stack).find("test-borough") == []


def test_a_linked_resident_comes_back_without_calling_the_service(verify_stack, sample_service):
    _browser, first = sign_in(verify_stack, "jane")
    _browser, again = sign_in(verify_stack, "jane")
    assert signed_in_subject(again) == signed_in_subject(first)
    assert len(sample_service.bodies(MATCH_PATH)) == 1


def test_every_request_of_every_journey_followed_the_contract(verify_stack, sample_service):
    """The service answers a request that breaks the schema with a 400, so each journey above
    would fail; this one records that none of them was even close."""
    for choice in ("jane", "sam", "dmitri", "lee"):
        browser, page = sign_in(verify_stack, choice)
        if 'data-page="cycle3"' in page.text:
            submit(browser, page, "cycle3", answer="99999999")
    paths = [r.path for r in sample_service.received]
    assert paths.count(MATCH_PATH) == 7 and paths.count(CREATION_PATH) == 3
    assert [r.problems for r in sample_service.received] == [[]] * len(paths)
