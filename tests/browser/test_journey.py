"""The demo journey in a real browser, in English and in Welsh, with JavaScript and without."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import choose_at_hub, start_sign_in

HEADINGS = {
    "en": {"council": "Sign in to Demo Borough Council", "hub": "Choose a test identity",
           "handoff": "Continue to prove your identity", "post-back": "Returning to the service"},
    "cy": {"council": "Mewngofnodi i Demo Borough Council", "hub": "Dewiswch hunaniaeth brawf",
           "handoff": "Parhau i brofi pwy ydych chi", "post-back": "Dychwelyd i'r gwasanaeth"},
}


@pytest.mark.parametrize("language", ["en", "cy"])
def test_resident_signs_in_through_the_whole_demo(stack, resident, language):
    window = resident()
    page = window.page
    page.goto(stack.council_url)
    if language == "cy":
        window.switch_language()                          # the council app's own switch
    assert window.heading() == HEADINGS[language]["council"]
    window.inspect("council-home", language)
    page.locator("#sign-in").click()                      # → broker hand-off → stub hub
    page.wait_for_url(re.compile(r"/saml/sso$"))
    if language == "cy":
        window.switch_language()                          # the stub hub is not the broker's: switch
    assert window.heading() == HEADINGS[language]["hub"]
    window.inspect("hub-choose", language)
    choose_at_hub(window, "jane")
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Jane Doe"
    window.inspect("council-signed-in", language)


@pytest.mark.parametrize("language", ["en", "cy"])
def test_hand_off_and_post_back_work_without_javascript(stack, resident, language):
    window = resident(javascript=False)
    page = window.page
    start_sign_in(window, stack, language)
    assert window.heading() == HEADINGS[language]["handoff"]   # ui_locales from the council app
    window.inspect("broker-hub-handoff", language)
    page.locator("#hub-handoff button").click()
    page.wait_for_url(re.compile(r"/saml/sso$"))
    if page.locator("html").get_attribute("lang") != language:
        window.switch_language()
    page.locator("#choice-jane").check()
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/saml/answer$"))
    assert window.heading() == HEADINGS[language]["post-back"]
    window.inspect("hub-post-back", language)
    page.locator("#post-back button").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Jane Doe"


def test_language_switch_on_the_hand_off_keeps_the_new_language_for_the_journey(stack, resident):
    window = resident(javascript=False)
    page = window.page
    start_sign_in(window, stack, "en")
    window.switch_language()                               # → /authorize with ui_locales=cy
    assert window.heading() == HEADINGS["cy"]["handoff"]
    page.locator("#hub-handoff button").click()
    page.wait_for_url(re.compile(r"/saml/sso$"))
    page.locator("#choice-cancel").check()
    page.locator("form button[type=submit]").click()
    page.locator("#post-back button").click()
    page.wait_for_url(re.compile(r"/page/"))  # its own address, after the ACS
    assert window.heading() == "Gwnaethoch ganslo mewngofnodi"


def test_keyboard_only_resident_signs_in(stack, resident):
    window = resident()
    page = window.page
    page.goto(stack.council_url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className").startswith("govuk-skip-link")
    tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/saml/sso$"))
    tab_to(page, "Jane Doe")                               # the chosen radio is reachable
    page.keyboard.press("ArrowDown")                       # arrows move through the radios
    page.keyboard.press("ArrowUp")
    tab_to(page, "Continue")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Jane Doe"
    tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    page.locator("#sign-in").wait_for()
    assert page.locator("#resident-name").count() == 0


def tab_to(page, text: str, limit: int = 40) -> None:
    """Presses Tab until the focused element (or its label) shows `text`, as a person would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => {
            const el = document.activeElement;
            const label = el.labels && el.labels.length ? el.labels[0].innerText : "";
            return (el.innerText || el.value || "") + " " + label;
        }""")
        if text in focused:
            return
    raise AssertionError(f"{text!r} cannot be reached with the Tab key")
