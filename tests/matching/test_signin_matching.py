"""Each branch of the matching pipeline, as a sign-in through the broker's ACS, with the
council's matching service mocked by `responses`."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urljoin

import lxml.html
import requests

from tests import hub_messages
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.matching.conftest import (
    CONTACT,
    CREATION_URL,
    MATCHING_URL,
    acs_answer,
    calls_to,
    consent_to_account,
    match_answer,
    stack_links,
)
from tests.oidc_client import (
    authorize,
    post_to_acs,
    query,
    redeem,
    shown_page,
    validate_id_token,
)

MATCH = {"result": "match", "localAccountId": "TB-000123"}
NO_MATCH = {"result": "no-match"}
NO_ID_MATCH = {"result": "match"}


def id_token_claims(stack, attempt, response) -> dict:
    assert response.status_code == 302, response.text
    params = query(response.headers["Location"])
    assert "code" in params, params
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri)
    assert token.status_code == 200, token.text
    return validate_id_token(stack, token.json()["id_token"], attempt.nonce)


def return_link(response) -> dict[str, str]:
    """The OIDC error the page's "Return to the council service" button carries."""
    document = lxml.html.fromstring(response.text)
    return query(document.xpath('//*[@id="continue"]/@href')[0])


def cycle3_form(response) -> dict[str, str]:
    document = lxml.html.fromstring(response.text)
    return {e.get("name"): e.get("value") or "" for e in document.xpath('//form[@id="cycle3"]//input')}


def answer_cycle3(stack, page, answer: str, action: str = "continue") -> requests.Response:
    fields = cycle3_form(page)
    fields.update(answer=answer, action=action)
    browser = page.browser  # the browser the page is in: the flow is bound to it
    response = shown_page(browser, browser.post(f"{stack.broker_url}/matching/cycle3",
                                                data=fields, allow_redirects=False, timeout=10))
    response.browser = browser
    return response


# Cycle 1 and cycle 0

def test_cycle1_match_gives_the_council_app_its_local_account_id(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    attempt, response = acs_answer(stack)
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-000123"


def test_local_account_id_is_also_released_at_userinfo(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    attempt, response = acs_answer(stack)
    params = query(response.headers["Location"])
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    info = requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["local_account_id"] == "TB-000123"


def test_a_bare_match_signs_in_with_the_hashed_pid_as_subject_and_no_account_id(
        matching_stack, matching_service):
    """Verify's services answer `{"result": "match"}` only: the council knows its resident by
    the hashed PID it was sent, which is the `sub` its app receives."""
    stack = matching_stack()
    match_answer(matching_service, NO_ID_MATCH)
    attempt, response = acs_answer(stack)
    claims = id_token_claims(stack, attempt, response)
    [call] = calls_to(matching_service)
    assert claims["sub"] == json.loads(call.request.body)["hashedPid"]
    assert "local_account_id" not in claims
    [link] = stack_links(stack).find("test-borough")
    assert (link.hashed_pid, link.local_account_id) == (claims["sub"], None)


def test_a_bare_match_is_a_cycle0_sign_in_next_time(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, NO_ID_MATCH)
    acs_answer(stack)
    attempt, response = acs_answer(stack)
    assert "local_account_id" not in id_token_claims(stack, attempt, response)
    assert len(calls_to(matching_service)) == 1


def test_account_creation_success_without_an_account_id_signs_in(matching_stack,
                                                                 matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, {"result": "success"}, url=CREATION_URL)
    attempt, response = acs_answer(stack)
    claims = id_token_claims(stack, attempt, consent_to_account(stack, response))
    assert "local_account_id" not in claims
    assert [link.hashed_pid for link in stack_links(stack).find("test-borough")] == [claims["sub"]]


def test_cycle1_match_writes_a_link(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    acs_answer(stack)
    [link] = stack_links(stack).find("test-borough")
    assert (link.local_account_id, link.level_of_assurance.name) == ("TB-000123", "LEVEL_2")


def test_cycle1_posts_to_the_configured_service_with_the_bearer_token(matching_stack,
                                                                    matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    acs_answer(stack)
    [call] = calls_to(matching_service)
    assert call.request.headers["Authorization"] == "Bearer test-matching-token"
    body = json.loads(call.request.body)
    assert body["levelOfAssurance"] == "LEVEL_2" and len(body["hashedPid"]) == 64


def test_linked_resident_signs_in_at_cycle0_without_calling_the_service(matching_stack,
                                                                       matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    acs_answer(stack)
    attempt, response = acs_answer(stack)
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-000123"
    assert len(calls_to(matching_service)) == 1


def test_council_without_matching_sends_no_local_account_id_and_calls_nobody(stack_factory,
                                                                            matching_service):
    stack = stack_factory(lambda _ports: {"councils.test-borough.matching": "none"})
    attempt, response = acs_answer(stack)
    assert "local_account_id" not in id_token_claims(stack, attempt, response)
    assert calls_to(matching_service) == [] and calls_to(matching_service, CREATION_URL) == []


def test_local_account_id_is_never_released_to_another_councils_app(matching_stack,
                                                                    matching_service):
    # The same person, linked at test-borough, signs in to an app of other-borough.
    def other_council(ports):
        return {"councils.other-borough": {"name": "Other Borough Council",
                                           "entity_id": "https://other-borough.example.gov.uk"},
                "clients": [
                    {"client_id": COUNCIL_CLIENT_ID, "council": "test-borough",
                     "client_secret": COUNCIL_CLIENT_SECRET, "scopes": ["openid", "profile"],
                     "redirect_uris": [f"{ports.url('council')}/callback"]},
                    {"client_id": "other-app", "council": "other-borough",
                     "client_secret": "other-secret", "scopes": ["openid", "profile"],
                     "redirect_uris": [f"{ports.url('council')}/callback"]}]}

    stack = matching_stack(extra_overrides=other_council)
    match_answer(matching_service, MATCH)
    acs_answer(stack)
    attempt, response = acs_answer(stack, client_id="other-app")
    params = query(response.headers["Location"])
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                   auth=("other-app", "other-secret")).json()
    info = requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert info["sub"] and "local_account_id" not in info
    assert len(calls_to(matching_service)) == 1


# No match, multiple match, cycle 3, account creation, not found

def test_no_match_without_cycle3_or_account_creation_shows_the_councils_contacts(
        matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack)
    assert response.status_code == 200
    assert 'data-page="no-record"' in response.text
    for detail in CONTACT.values():
        assert detail in response.text


def test_not_found_sends_access_denied_to_the_council_app(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, NO_MATCH)
    attempt, response = acs_answer(stack)
    error = return_link(response)
    assert (error["error"], error["state"]) == ("access_denied", attempt.state)


def test_no_match_writes_no_link(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, NO_MATCH)
    acs_answer(stack)
    assert stack_links(stack).find("test-borough") == []


def test_multiple_match_counts_as_no_match(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, {"result": "multiple-match"})
    _attempt, response = acs_answer(stack)
    assert 'data-page="no-record"' in response.text
    assert stack_links(stack).find("test-borough") == []


def test_multiple_match_goes_on_to_cycle3_like_a_no_match(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, {"result": "multiple-match"})
    _attempt, response = acs_answer(stack)
    assert 'data-page="cycle3"' in response.text


def test_no_match_with_cycle3_asks_the_configured_question(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack)
    assert response.status_code == 200
    assert "What is your council tax reference?" in response.text
    assert "8 digits, on your council tax bill." in response.text


def test_cycle3_question_is_in_welsh_when_the_app_asked_for_welsh(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack, ui_locales="cy")
    assert "Beth yw eich cyfeirnod treth gyngor?" in response.text
    assert 'lang="cy"' in response.text


def test_cycle3_answer_that_matches_signs_the_resident_in(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    attempt, page = acs_answer(stack)
    response = answer_cycle3(stack, page, "40012345")
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-000123"
    assert stack_links(stack).seen("test-borough", json.loads(
        calls_to(matching_service)[0].request.body)["hashedPid"]) is not None


def test_cycle3_answer_is_sent_with_the_same_match_id(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    _attempt, page = acs_answer(stack)
    answer_cycle3(stack, page, " 40012345 ")
    first, second = (json.loads(c.request.body) for c in calls_to(matching_service))
    assert second["matchId"] == first["matchId"]
    assert second["cycle3Dataset"] == {"attributes": {"council_tax_reference": "40012345"}}


def test_cycle3_answer_not_matching_the_pattern_is_shown_again_with_an_error(matching_stack,
                                                                            matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack)
    response = answer_cycle3(stack, page, "12-AB")
    assert response.status_code == 200 and response.url == page.url  # the question's own address
    assert "govuk-error-summary" in response.text
    assert len(calls_to(matching_service)) == 1


def test_an_invalid_cycle3_answer_is_redirected_to_the_questions_own_address(matching_stack,
                                                                            matching_service):
    """Post/Redirect/Get: the error page is a GET, so a reload asks again and posts nothing."""
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack)
    fields = {**cycle3_form(page), "answer": "12-AB", "action": "continue"}
    posted = page.browser.post(f"{stack.broker_url}/matching/cycle3", data=fields,
                               allow_redirects=False, timeout=10)
    assert posted.status_code == 303 and posted.text == ""
    assert urljoin(posted.url, posted.headers["Location"]) == page.url
    assert "12-AB" not in posted.headers["Location"]
    for _reload in range(2):
        again = page.browser.get(page.url, timeout=10)
        assert "govuk-error-summary" in again.text and 'value="12-AB"' in again.text
    assert len(calls_to(matching_service)) == 1


def test_the_rejected_answer_is_stored_sealed(matching_stack,
                                                                    matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack)
    answer_cycle3(stack, page, "AB-SECRET-99")
    for key in stack.redis.scan_iter(f"{stack.prefix}*"):
        if stack.redis.type(key) == b"string":
            assert b"AB-SECRET-99" not in stack.redis.get(key)


def test_cycle3_page_can_be_answered_after_a_validation_error(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    attempt, page = acs_answer(stack)
    again = answer_cycle3(stack, page, "wrong")
    response = answer_cycle3(stack, again, "40012345")
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-000123"


def test_cycle3_page_cannot_be_submitted_twice(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    _attempt, page = acs_answer(stack)
    answer_cycle3(stack, page, "40012345")
    second = answer_cycle3(stack, page, "40012345")
    assert 'data-page="session-expired"' in second.text
    assert len(calls_to(matching_service)) == 2


def test_cycle3_with_a_forged_token_shows_session_expired(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    response = requests.post(f"{stack.broker_url}/matching/cycle3", timeout=10,
                             data={"token": "forged", "answer": "40012345"})
    assert 'data-page="session-expired"' in response.text
    assert calls_to(matching_service) == [] and calls_to(matching_service, CREATION_URL) == []


def test_cancel_on_the_cycle3_page_sends_access_denied(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    attempt, page = acs_answer(stack)
    response = answer_cycle3(stack, page, "", action="cancel")
    assert 'data-page="matching-cancelled"' in response.text
    error = return_link(response)
    assert (error["error"], error["state"]) == ("access_denied", attempt.state)


def test_back_on_the_cycle3_page_asks_before_it_cancels_the_sign_in(matching_stack,
                                                                    matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    attempt, page = acs_answer(stack)
    back = lxml.html.fromstring(page.text).xpath('//*[@id="back"]/@href')[0]
    asked = page.browser.get(f"{stack.broker_url}{back}", allow_redirects=False, timeout=10)
    assert asked.status_code == 200 and 'data-page="cycle3-leave"' in asked.text
    form = lxml.html.fromstring(asked.text)
    fields = {i.get("name"): i.get("value") for i in form.xpath('//form[@id="cycle3-leave"]//input')}
    stopped = shown_page(page.browser, page.browser.post(
        f"{stack.broker_url}/matching/cycle3", data={**fields, "action": "cancel"},
        allow_redirects=False, timeout=10))
    assert 'data-page="matching-cancelled"' in stopped.text
    assert return_link(stopped)["error"] == "access_denied"
    assert return_link(stopped)["state"] == attempt.state


def test_back_on_the_cycle3_page_then_no_returns_to_the_question(matching_stack,
                                                                matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    attempt, page = acs_answer(stack)
    back = lxml.html.fromstring(page.text).xpath('//*[@id="back"]/@href')[0]
    asked = page.browser.get(f"{stack.broker_url}{back}", allow_redirects=False, timeout=10)
    keep_going = lxml.html.fromstring(asked.text).xpath('//*[@id="keep-going"]/@href')[0]
    again = page.browser.get(f"{stack.broker_url}{keep_going}", allow_redirects=False, timeout=10)
    assert 'data-page="cycle3"' in again.text
    again.browser = page.browser
    response = answer_cycle3(stack, again, "40012345")
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-000123"


def test_cycle3_no_match_without_account_creation_shows_not_found(matching_stack,
                                                                 matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, NO_MATCH)
    _attempt, page = acs_answer(stack)
    response = answer_cycle3(stack, page, "40012345")
    assert 'data-page="no-record"' in response.text
    assert return_link(response)["error"] == "access_denied"


def test_final_no_match_creates_an_account_and_links_it(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, {"result": "success", "localAccountId": "TB-NEW-1"},
                 url=CREATION_URL)
    attempt, response = acs_answer(stack)
    response = consent_to_account(stack, response)
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-NEW-1"
    assert [link.local_account_id for link in stack_links(stack).find("test-borough")] == ["TB-NEW-1"]


def test_account_creation_sends_verifys_request_by_default(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, {"result": "success"}, url=CREATION_URL)
    consent_to_account(stack, acs_answer(stack)[1])
    [call] = calls_to(matching_service, CREATION_URL)
    assert set(json.loads(call.request.body)) == {"hashedPid", "levelOfAssurance"}


def test_account_creation_sends_the_attributes_a_council_opted_in_to(matching_stack,
                                                                      matching_service):
    stack = matching_stack(account_creation=True, account_creation_attributes=[
        "first_name", "surname", "date_of_birth"])
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, {"result": "success", "localAccountId": "TB-NEW-1"},
                 url=CREATION_URL)
    consent_to_account(stack, acs_answer(stack)[1])
    [call] = calls_to(matching_service, CREATION_URL)
    body = json.loads(call.request.body)
    assert set(body["attributes"]) == {"first_name", "surname", "date_of_birth"}
    assert body["attributes"]["surname"]["value"] == "Doe"


def test_account_creation_after_a_cycle3_no_match(matching_stack, matching_service):
    stack = matching_stack(cycle3=True, account_creation=True)
    match_answer(matching_service, NO_MATCH, NO_MATCH)
    match_answer(matching_service, {"result": "success", "localAccountId": "TB-NEW-2"},
                 url=CREATION_URL)
    attempt, page = acs_answer(stack)
    response = consent_to_account(stack, answer_cycle3(stack, page, "40012345"))
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-NEW-2"


def test_account_creation_failure_shows_not_found(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, {"result": "failure"}, url=CREATION_URL)
    _attempt, response = acs_answer(stack)
    response = consent_to_account(stack, response)
    assert 'data-page="no-record"' in response.text
    assert stack_links(stack).find("test-borough") == []


# The service failing: never a no-match, one retry, then "try again later", nothing written

def unavailable(stack, response):
    assert response.status_code == 503
    assert 'data-page="matching-unavailable"' in response.text
    assert return_link(response)["error"] == "temporarily_unavailable"
    assert stack_links(stack).find("test-borough") == []


def test_service_500_twice_shows_try_again_later_and_writes_nothing(matching_stack,
                                                                   matching_service):
    stack = matching_stack(cycle3=True, account_creation=True)
    match_answer(matching_service, 500, 500)
    _attempt, response = acs_answer(stack)
    unavailable(stack, response)
    assert len(calls_to(matching_service)) == 2
    assert calls_to(matching_service, CREATION_URL) == []


def test_service_timing_out_twice_shows_try_again_later(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    timeout = requests.exceptions.ReadTimeout("read timed out")
    match_answer(matching_service, timeout, timeout)
    _attempt, response = acs_answer(stack)
    unavailable(stack, response)


def test_service_refusing_connections_shows_try_again_later(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    refused = requests.exceptions.ConnectionError("connection refused")
    match_answer(matching_service, refused, refused)
    _attempt, response = acs_answer(stack)
    unavailable(stack, response)


def test_malformed_service_answer_shows_try_again_later(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, {"result": "perhaps"}, {"outcome": "match"})
    _attempt, response = acs_answer(stack)
    unavailable(stack, response)


def test_slow_service_answer_shows_try_again_later(matching_stack, matching_service):
    stack = matching_stack(timeout_seconds=0.2)

    def slow(_request):
        time.sleep(0.3)
        return 200, {}, json.dumps(MATCH)

    matching_service.add_callback("POST", MATCHING_URL, callback=slow)
    _attempt, response = acs_answer(stack)
    unavailable(stack, response)


def test_one_failure_then_a_match_signs_the_resident_in(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, 502, MATCH)
    attempt, response = acs_answer(stack)
    assert id_token_claims(stack, attempt, response)["local_account_id"] == "TB-000123"


def test_account_creation_failing_shows_try_again_later(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    match_answer(matching_service, 500, 500, url=CREATION_URL)
    _attempt, response = acs_answer(stack)
    unavailable(stack, consent_to_account(stack, response))


def test_service_failing_at_cycle3_shows_try_again_later(matching_stack, matching_service):
    stack = matching_stack(cycle3=True, account_creation=True)
    match_answer(matching_service, NO_MATCH, 500, 500)
    _attempt, page = acs_answer(stack)
    response = answer_cycle3(stack, page, "40012345")
    unavailable(stack, response)
    assert calls_to(matching_service, CREATION_URL) == []


# Concurrency

def test_same_person_signing_in_twice_at_once_gets_one_link(matching_stack, matching_service):
    stack = matching_stack()

    both_asked = threading.Barrier(2, timeout=30)

    def slow_match(_request):
        # Neither answer comes back until both sign-ins have passed cycle 0 (a sleep here let a
        # slow machine link the first before the second looked).
        both_asked.wait()
        return 200, {}, json.dumps(MATCH)

    matching_service.add_callback("POST", MATCHING_URL, callback=slow_match)
    results: list = []
    barrier = threading.Barrier(2)
    attempts = [authorize(stack), authorize(stack)]

    def sign_in(attempt):
        answer = hub_messages.success(stack, attempt.authn_request_id, "jane")
        barrier.wait()
        results.append((attempt, post_to_acs(stack, answer, attempt.relay_state)))

    threads = [threading.Thread(target=sign_in, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls_to(matching_service)) == 2
    assert [r.status_code for _, r in results] == [302, 302]
    assert len(stack_links(stack).find("test-borough")) == 1


# Reusing a broker session (prompt=none)

def signed_in_browser(stack) -> requests.Session:
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    answer = hub_messages.success(stack, attempt.authn_request_id, "jane")
    response = post_to_acs(stack, answer, attempt.relay_state, session=browser)
    assert response.status_code == 302, response.text
    return browser


def test_session_reuse_is_matched_from_the_link(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, MATCH)
    browser = signed_in_browser(stack)
    attempt = authorize(stack, session=browser, prompt="none")
    assert id_token_claims(stack, attempt, attempt.response)["local_account_id"] == "TB-000123"
    assert len(calls_to(matching_service)) == 1


def test_prompt_none_that_would_need_the_cycle3_page_is_interaction_required(matching_stack,
                                                                            matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, MATCH, NO_MATCH)
    browser = signed_in_browser(stack)
    stack_links(stack).unlink("test", "test-borough", local_account_id="TB-000123")
    attempt = authorize(stack, session=browser, prompt="none")
    assert attempt.response.status_code == 302
    assert query(attempt.response.headers["Location"])["error"] == "interaction_required"
