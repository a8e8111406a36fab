"""The resident's agreement before the council creates an account (issue 26.6).

GOV.UK Verify asked services to get the resident's agreement before creating a new account
after a failed match. The broker asks on a page of its own, at a reusable URL bound to the
browser, in the council's words when it gave some; no answer, or no, creates nothing."""

from __future__ import annotations

import json

import lxml.html
import requests

from tests.matching.conftest import (
    CREATION_URL,
    acs_answer,
    answer_consent,
    calls_to,
    consent_page,
    consent_to_account,
    match_answer,
    stack_links,
)
from tests.matching.test_signin_matching import answer_cycle3, id_token_claims
from tests.oidc_client import query

NO_MATCH = {"result": "no-match"}
CREATED = {"result": "success", "localAccountId": "TB-NEW-9"}


def test_a_final_no_match_asks_before_creating_an_account(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack)
    page = consent_page(stack, response)
    assert page.status_code == 200 and 'data-page="consent"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert calls_to(matching_service, CREATION_URL) == []
    assert stack_links(stack).find("test-borough") == []


def test_yes_creates_the_account_and_signs_in(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, CREATED, url=CREATION_URL)
    attempt, response = acs_answer(stack)
    claims = id_token_claims(stack, attempt, consent_to_account(stack, response, "yes"))
    assert claims["local_account_id"] == "TB-NEW-9"
    assert [link.local_account_id for link in stack_links(stack).find("test-borough")] == ["TB-NEW-9"]


def test_no_returns_access_denied_to_the_council_app_and_creates_nothing(matching_stack,
                                                                         matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    attempt, response = acs_answer(stack)
    declined = consent_to_account(stack, response, "no")
    assert declined.status_code == 302
    assert declined.headers["Location"].startswith(attempt.redirect_uri)
    params = query(declined.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == attempt.state
    assert "code" not in params
    assert calls_to(matching_service, CREATION_URL) == []
    assert stack_links(stack).find("test-borough") == []


def test_reloading_the_question_shows_it_again_and_the_answer_still_counts(matching_stack,
                                                                           matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, CREATED, url=CREATION_URL)
    attempt, response = acs_answer(stack)
    first = consent_page(stack, response)
    reloaded = consent_page(stack, response)
    assert 'data-page="consent"' in first.text and 'data-page="consent"' in reloaded.text
    assert id_token_claims(stack, attempt, answer_consent(stack, reloaded, "yes"))


def test_an_answer_posted_twice_creates_one_account(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, CREATED, url=CREATION_URL)
    _attempt, response = acs_answer(stack)
    page = consent_page(stack, response)
    assert answer_consent(stack, page, "yes").status_code == 302
    again = answer_consent(stack, page, "yes")
    assert 'data-page="session-expired"' in again.text
    assert len(calls_to(matching_service, CREATION_URL)) == 1


def test_the_question_is_refused_in_a_browser_that_did_not_start_the_sign_in(matching_stack,
                                                                             matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack)
    page = consent_page(stack, response)
    attacker = requests.Session()
    location = response.headers["Location"]
    seen = attacker.get(f"{stack.broker_url}{location}", allow_redirects=False, timeout=10)
    assert 'data-page="other-browser"' in seen.text
    page.browser = attacker  # a login CSRF: the resident's token, posted from another browser
    refused = answer_consent(stack, page, "yes")
    assert 'data-page="other-browser"' in refused.text
    assert calls_to(matching_service, CREATION_URL) == []


def test_a_cycle3_token_is_no_answer_to_the_account_question(matching_stack, matching_service):
    stack = matching_stack(cycle3=True, account_creation=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack)
    token = lxml.html.fromstring(page.text).xpath('//form[@id="cycle3"]//input[@name="token"]/@value')[0]
    response = page.browser.post(f"{stack.broker_url}/matching/create-account",
                                 data={"token": token, "answer": "yes"}, allow_redirects=False,
                                 timeout=10)
    assert 'data-page="session-expired"' in response.text
    assert calls_to(matching_service, CREATION_URL) == []


def test_after_the_extra_question_the_account_gets_its_answer(matching_stack, matching_service):
    stack = matching_stack(cycle3=True, account_creation=True,
                           account_creation_attributes=["cycle_3"])
    match_answer(matching_service, NO_MATCH, NO_MATCH)
    match_answer(matching_service, CREATED, url=CREATION_URL)
    attempt, page = acs_answer(stack)
    response = consent_to_account(stack, answer_cycle3(stack, page, "40012345"))
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-NEW-9"
    [call] = calls_to(matching_service, CREATION_URL)
    assert "40012345" in json.dumps(json.loads(call.request.body)["attributes"])


def test_the_councils_own_words_are_shown_in_welsh(matching_stack, matching_service):
    stack = matching_stack(**{"account_creation": {
        "url": CREATION_URL, "consent": {"text": {
            "en": "We will open a council tax account for you.",
            "cy": "Byddwn yn agor cyfrif treth gyngor i chi."}}}})
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack, ui_locales="cy")
    page = consent_page(stack, response)
    wording = lxml.html.fromstring(page.text).get_element_by_id("consent-wording").text_content()
    assert wording == "Byddwn yn agor cyfrif treth gyngor i chi."
    assert '<html lang="cy"' in page.text


def test_a_council_that_turns_the_question_off_creates_the_account_at_once(matching_stack,
                                                                           matching_service):
    stack = matching_stack(**{"account_creation": {"url": CREATION_URL,
                                                   "consent": {"ask": False}}})
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, CREATED, url=CREATION_URL)
    attempt, response = acs_answer(stack)
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-NEW-9"
