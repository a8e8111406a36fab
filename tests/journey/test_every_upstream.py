"""One sign-in suite for every upstream plug-in (issue 25): success, each failure kind's page,
single sign-on, signing out, Welsh and the council's extra question (cycle 3) surviving a reload
(issue 26), driven through the demo council app by the scripted
residents of tests/council_app.py. Adding a plug-in is one entry in tests/upstreams.py."""

from __future__ import annotations

import pytest
import requests

from broker.journey import FAILURE_PAGES
from broker.upstreams.interface import FailureKind
from tests.council_app import signed_in_subject
from tests.forms import follow, link, submit
from tests.matching.conftest import MATCHING_URL, match_answer, matching_config
from tests.one_login.conftest import (  # noqa: F401 - fixtures the One Login entry names
    one_login_stack,
    one_login_stack_factory,
)
from tests.openid_ida.conftest import (  # noqa: F401 - fixtures the OIDC4IDA entry names
    ida_stack,
    ida_stack_factory,
)
from tests.upstreams import FAILURE_CASES, UPSTREAMS


@pytest.fixture(params=UPSTREAMS, ids=lambda upstream: upstream.name)
def upstream(request):
    return request.param, request.getfixturevalue(request.param.stack_fixture)


def test_a_resident_signs_in(upstream):
    plug_in, stack = upstream
    page = plug_in.sign_in(stack)
    assert page.status_code == 200
    assert signed_in_subject(page) and "Jane Doe" in page.text and "LEVEL_2" in page.text


@pytest.mark.parametrize(("plug_in", "kind", "choice"), FAILURE_CASES,
                         ids=[f"{u.name}-{kind}" for u, kind, _choice in FAILURE_CASES])
def test_each_failure_kind_ends_on_its_own_page(request, plug_in, kind, choice):
    stack = request.getfixturevalue(plug_in.stack_fixture)
    page = plug_in.sign_in(stack, choice)
    assert f'data-page="{FAILURE_PAGES[FailureKind(kind)]}"' in page.text
    if kind == "cancelled":  # the resident chose to stop: not a failed identity check
        assert "could not verify your identity" not in page.text


def test_single_sign_on_at_the_second_visit_goes_nowhere_upstream(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    first = plug_in.sign_in(stack, browser=browser)
    del browser.cookies["council_session"]  # the app forgets the resident; the broker does not
    home = browser.get(f"{stack.council_url}/", timeout=10)
    again = follow(browser, home, "sign-in")  # "Sign in": straight back with a code, no upstream
    assert signed_in_subject(again) == signed_in_subject(first)


def test_signing_out_at_the_council_app_ends_the_broker_session(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    page = plug_in.sign_in(stack, browser=browser)
    signed_out = submit(browser, page, "sign-out")
    assert signed_out.url.rstrip("/") == stack.council_url
    assert not browser.cookies.get("broker_session")


def test_the_pages_follow_the_residents_welsh(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    browser.cookies.set("council_lang", "cy")
    page = plug_in.sign_in(stack, plug_in.failures["cancelled"], browser=browser)
    assert '<html lang="cy"' in page.text and 'data-page="cancelled"' in page.text


# The council's extra question (cycle 3), reached after each upstream's single-use step (the
# hub's continuation, a callback with a code): a page a resident may leave open, so a reload
# (a mobile browser waking a background tab), Back or a language switch must show it again.

NO_MATCH, MATCH = {"result": "no-match"}, {"result": "match", "localAccountId": "TB-000123"}


def matching_upstream(request, matching_service, database_url, cycle3: bool, *answers):
    plug_in = request.param
    build = request.getfixturevalue(plug_in.factory_fixture)
    stack = build(lambda ports: {
        "councils.test-borough.matching": matching_config(cycle3=cycle3),
        "database": {"url": database_url, "auto_upgrade": True}})
    match_answer(matching_service, *answers)
    return plug_in, stack


@pytest.fixture
def cycle3_upstream(request, matching_service, database_url):
    """Each plug-in's broker with a council that asks the extra question, and the service's
    answers: no match at first, a match with the answer."""
    return matching_upstream(request, matching_service, database_url, True, NO_MATCH, MATCH)


@pytest.fixture
def no_record_upstream(request, matching_service, database_url):
    """Each plug-in's broker with a council that finds no record of the resident."""
    return matching_upstream(request, matching_service, database_url, False, NO_MATCH)


@pytest.fixture
def matched_upstream(request, matching_service, database_url):
    """Each plug-in's broker with a council whose matching service finds the resident (once)."""
    return matching_upstream(request, matching_service, database_url, False, MATCH)


@pytest.mark.parametrize("matched_upstream", UPSTREAMS, indirect=True,
                         ids=lambda upstream: upstream.name)
def test_cycle_1_links_the_resident_and_the_next_sign_in_is_cycle_0(matched_upstream,
                                                                     matching_service):
    plug_in, stack = matched_upstream
    first = signed_in_subject(plug_in.sign_in(stack, browser=requests.Session()))
    calls = [c for c in matching_service.calls if c.request.url == MATCHING_URL]
    assert len(calls) == 1  # cycle 1: the council's matching service found the resident

    # Another browser (no broker session): the upstream again, then the link store alone.
    again = signed_in_subject(plug_in.sign_in(stack, browser=requests.Session()))
    assert again == first
    assert [c for c in matching_service.calls if c.request.url == MATCHING_URL] == calls


def cycle3_question(plug_in, stack, browser: requests.Session) -> requests.Response:
    question = plug_in.sign_in(stack, browser=browser)
    assert question.status_code == 200 and 'data-page="cycle3"' in question.text, question.text
    return question


EVERY_UPSTREAM = pytest.mark.parametrize("cycle3_upstream", UPSTREAMS, indirect=True,
                                         ids=lambda upstream: upstream.name)


@EVERY_UPSTREAM
def test_reloading_the_extra_question_shows_it_again_and_the_sign_in_carries_on(
        cycle3_upstream):
    plug_in, stack = cycle3_upstream
    browser = requests.Session()
    question = cycle3_question(plug_in, stack, browser)
    for _reload in range(2):
        question = browser.get(question.url, timeout=10)
        assert question.status_code == 200 and 'data-page="cycle3"' in question.text
    signed_in = submit(browser, question, "cycle3", answer="40012345")
    assert signed_in_subject(signed_in)


@EVERY_UPSTREAM
def test_the_extra_question_is_at_an_address_that_is_not_single_use(cycle3_upstream):
    plug_in, stack = cycle3_upstream
    question = cycle3_question(plug_in, stack, requests.Session())
    assert question.url.startswith(f"{stack.broker_url}/matching/cycle3?token="), question.url


@EVERY_UPSTREAM
def test_the_extra_questions_address_opens_only_in_the_browser_that_started(cycle3_upstream):
    plug_in, stack = cycle3_upstream
    question = cycle3_question(plug_in, stack, requests.Session())
    elsewhere = requests.get(question.url, timeout=10)
    assert 'data-page="other-browser"' in elsewhere.text and 'id="cycle3"' not in elsewhere.text


@EVERY_UPSTREAM
def test_after_a_language_switch_a_reload_keeps_the_welsh_and_the_sign_in(cycle3_upstream):
    plug_in, stack = cycle3_upstream
    browser = requests.Session()
    question = cycle3_question(plug_in, stack, browser)
    welsh = browser.get(link(question, "language-switch"), timeout=10)
    again = browser.get(question.url, timeout=10)  # the address first shown, reloaded later
    for page in (welsh, again):
        assert '<html lang="cy"' in page.text and "Beth yw eich cyfeirnod treth gyngor?" in page.text
        assert "What is your council tax reference?" not in page.text
    signed_in = submit(browser, again, "cycle3", answer="40012345")
    assert signed_in_subject(signed_in)


# The pages that end a sign-in after the single-use step: a resident may leave them open too (to
# phone the council, say), so a reload shows the same page and the same way back.

def way_back(page: requests.Response) -> str:
    return link(page, "continue")


def test_reloading_a_failure_page_shows_it_again_with_its_way_back(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    page = plug_in.sign_in(stack, plug_in.failures["cancelled"], browser=browser)
    again = browser.get(page.url, timeout=10)
    assert again.status_code == page.status_code and 'data-page="cancelled"' in again.text
    assert way_back(again) == way_back(page) and "error=access_denied" in way_back(again)


@pytest.mark.parametrize("no_record_upstream", UPSTREAMS, indirect=True,
                         ids=lambda upstream: upstream.name)
def test_reloading_the_no_record_page_shows_it_again_with_the_councils_contacts(
        no_record_upstream):
    plug_in, stack = no_record_upstream
    browser = requests.Session()
    page = plug_in.sign_in(stack, browser=browser)
    assert 'data-page="no-record"' in page.text
    again = browser.get(page.url, timeout=10)
    assert 'data-page="no-record"' in again.text and "0300 555 0100" in again.text
    assert way_back(again) == way_back(page)


def test_a_welsh_failure_page_reloads_in_welsh(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    browser.cookies.set("council_lang", "cy")
    page = plug_in.sign_in(stack, plug_in.failures["cancelled"], browser=browser)
    again = browser.get(page.url, timeout=10)
    assert '<html lang="cy"' in again.text and 'data-page="cancelled"' in again.text
