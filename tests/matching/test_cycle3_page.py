"""The cycle 3 question's error state follows the GOV.UK Design System, in both languages."""

from __future__ import annotations

import re

import lxml.html

from tests.matching.conftest import acs_answer, match_answer
from tests.matching.test_signin_matching import NO_MATCH, answer_cycle3


def title(response) -> str:
    return lxml.html.fromstring(response.text).findtext(".//title").strip()


def test_an_invalid_answer_puts_error_in_the_title_and_links_the_summary_to_the_field(
        matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack)
    assert not title(page).startswith("Error:")
    response = answer_cycle3(stack, page, "12-AB")
    document = lxml.html.fromstring(response.text)
    assert title(response).startswith("Error:")
    assert document.xpath('//div[contains(@class,"govuk-error-summary")]//a/@href') == ["#answer"]
    message = document.get_element_by_id("answer-error").text_content()
    assert re.match(r"\s*Error:", message)
    assert "answer-error" in document.get_element_by_id("answer").get("aria-describedby")


def test_the_error_prefix_is_welsh_on_a_welsh_journey(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack, ui_locales="cy")
    response = answer_cycle3(stack, page, "12-AB")
    assert title(response).startswith("Gwall:")
    assert "Error:" not in response.text


def test_the_councils_contact_labels_are_welsh_on_a_welsh_journey(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, NO_MATCH)
    _attempt, page = acs_answer(stack, ui_locales="cy")
    contact = lxml.html.fromstring(page.text).get_element_by_id("council-contact").text_content()
    assert "Ffôn:" in contact and "Phone" not in contact
