"""The matching pages in Welsh: no English text, the <title> included (issue 26.3)."""

from __future__ import annotations

import lxml.html

from tests.matching.conftest import acs_answer, consent_page, match_answer
from tests.matching.test_signin_matching import answer_cycle3
from tests.welsh import english_left_on, title_of

NO_MATCH = {"result": "no-match"}


def test_the_extra_question_is_all_welsh_and_says_why_it_asks(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack, ui_locales="cy")
    assert english_left_on(page.text) == []
    assert title_of(page.text).startswith("Mae angen un manylyn arall arnom")
    why = lxml.html.fromstring(page.text).get_element_by_id("why").text_content()
    assert "Mae'r cyngor yn gofyn y cwestiwn hwn" in why


def test_the_extra_question_with_an_error_is_all_welsh(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack, ui_locales="cy")
    wrong = answer_cycle3(stack, page, "12-AB")
    assert english_left_on(wrong.text) == []
    assert "yn yr awgrym" in wrong.text and "yn y cyngor" not in wrong.text


def test_the_question_before_leaving_the_extra_question_is_all_welsh(matching_stack,
                                                                     matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack, ui_locales="cy")
    back = lxml.html.fromstring(page.text).xpath('//*[@id="back"]')[0]
    assert back.text_content().strip() == "Yn ôl"
    asked = page.browser.get(f"{stack.broker_url}{back.get('href')}", timeout=10)
    assert english_left_on(asked.text) == []
    assert title_of(asked.text).startswith("Ydych chi eisiau rhoi'r gorau i fewngofnodi?")


def test_the_account_question_is_all_welsh(matching_stack, matching_service):
    stack = matching_stack(account_creation=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, response = acs_answer(stack, ui_locales="cy")
    page = consent_page(stack, response)
    assert english_left_on(page.text) == []
    assert title_of(page.text).startswith("Ydych chi eisiau i'r cyngor greu cyfrif i chi?")
