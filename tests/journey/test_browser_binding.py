"""Attack 2 of issue 13 (login CSRF): a flow completes only in the browser that started it.

An attacker starts a sign-in, takes it through the hub as themself, and makes a victim's browser
post the hub's answer (or the cycle 3 page's form) to the broker. The victim's browser must get
neither a broker session nor a code for the council app: only a clear page."""

from __future__ import annotations

from urllib.parse import urljoin, urlparse

import requests

from tests import hub_messages
from tests.forms import form_fields
from tests.matching.conftest import match_answer
from tests.oidc_client import authorize, post_to_acs, query

SESSION_COOKIE = "broker_session"


def broker_pages(stack, browser: requests.Session, response: requests.Response) -> list:
    """The responses a browser sees while it stays on the broker (never reaching the app)."""
    seen = [response]
    while response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        if urlparse(target).netloc != urlparse(stack.broker_url).netloc:
            break
        response = browser.get(target, allow_redirects=False, timeout=10)
        seen.append(response)
    return seen


def assert_refused_without_a_session_or_code(browser, seen) -> None:
    for response in seen:
        assert response.status_code < 500, response.text
        location = response.headers.get("Location", "")
        assert "code" not in query(location), "the foreign browser was sent a code"
    assert SESSION_COOKIE not in browser.cookies, "the foreign browser got a broker session"
    assert 'data-page="other-browser"' in seen[-1].text, seen[-1].text


def test_a_hub_response_posted_from_another_browser_never_signs_that_browser_in(stack):
    attacker = requests.Session()
    attempt = authorize(stack, session=attacker)
    answer = hub_messages.success(stack, attempt.authn_request_id, "jane")
    victim = requests.Session()
    response = victim.post(f"{stack.broker_url}/saml/acs", allow_redirects=False, timeout=10,
                           data={"SAMLResponse": answer, "RelayState": attempt.relay_state})
    assert_refused_without_a_session_or_code(victim, broker_pages(stack, victim, response))


def test_a_hub_response_posted_from_a_browser_with_its_own_flow_is_refused(stack):
    attacker = requests.Session()
    attempt = authorize(stack, session=attacker)
    answer = hub_messages.success(stack, attempt.authn_request_id, "jane")
    victim = requests.Session()
    authorize(stack, session=victim)  # the victim has a sign-in of their own in progress
    response = victim.post(f"{stack.broker_url}/saml/acs", allow_redirects=False, timeout=10,
                           data={"SAMLResponse": answer, "RelayState": attempt.relay_state})
    assert_refused_without_a_session_or_code(victim, broker_pages(stack, victim, response))


def test_a_cycle3_answer_posted_from_another_browser_never_signs_that_browser_in(
        matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, {"result": "no-match"},
                 {"result": "match", "localAccountId": "TB-1"})
    attacker = requests.Session()
    attempt = authorize(stack, session=attacker)
    page = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, "jane"),
                       attempt.relay_state, session=attacker)
    assert 'id="cycle3"' in page.text
    _method, action, fields = form_fields(page.text, "cycle3")
    victim = requests.Session()
    response = victim.post(urljoin(page.url, action), allow_redirects=False, timeout=10,
                           data={**fields, "answer": "40012345", "action": "continue"})
    assert_refused_without_a_session_or_code(victim, broker_pages(stack, victim, response))
    assert len(matching_service.calls) == 1, "the foreign answer reached the council's service"


def test_the_browser_that_started_the_flow_still_signs_in(stack):
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    response = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, "jane"),
                           attempt.relay_state, session=browser)
    assert response.status_code == 302 and "code" in query(response.headers["Location"])
    assert SESSION_COOKIE in browser.cookies
