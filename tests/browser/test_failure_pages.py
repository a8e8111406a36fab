"""Every failure page, reached the way a resident reaches it, in English and in Welsh.

Each must say what happened and what to do next, offer the way back to the council service
where one is known, and pass the same checks as every other page (axe, title, one heading).
"""

from __future__ import annotations

import re
import secrets

import pytest

from broker.web.pages import PAGES, page_link
from tests.browser.conftest import choose_at_hub, start_sign_in
from tests.conftest import COUNCIL_CLIENT_ID
from tests.oidc_client import pkce_pair

LANGUAGES = ["en", "cy"]
# A failure after the hub's answer is shown at its own address (a 303 from the ACS), which a
# reload shows again (issue 26).
FAILURE_PAGE_ADDRESS = re.compile(r"/page/[^/?]+\?lang=(en|cy)$")
WELSH_TITLES = {
    "cancelled": "Gwnaethoch ganslo mewngofnodi",
    "authn-failed": "Nid oeddem yn gallu gwirio pwy ydych chi",
    "loa-pending": "Mae eich hunaniaeth yn dal i gael ei gwirio",
    "hub-error": "Mae'n ddrwg gennym, mae problem gyda'r gwasanaeth hunaniaeth",
    "level-not-met": "Mae angen lefel uwch o wiriad hunaniaeth arnoch",
    "session-expired": "Mae eich mewngofnodi wedi dod i ben neu nid yw'n cael ei adnabod",
    "invalid-request": "Mae'n ddrwg gennym, nid yw'r ddolen fewngofnodi hon yn ddilys",
    "not-found": "Heb ddod o hyd i'r dudalen",
    "error": "Mae'n ddrwg gennym, mae problem gyda'r gwasanaeth",
    "unavailable": "Mae'n ddrwg gennym, nid yw'r gwasanaeth ar gael",
}


def title(name: str, language: str) -> str:
    return PAGES[name].title if language == "en" else WELSH_TITLES[name]


def shows_page(window, name: str, language: str) -> None:
    assert window.page.locator(f"[data-page={name}]").count() == 1
    assert window.heading() == title(name, language)
    window.inspect(f"broker-{name}", language)


def authorize_url(stack, **params: str) -> str:
    """A sign-in link as a council app builds it (used where the demo app cannot ask for it)."""
    _verifier, challenge = pkce_pair()
    query = {"response_type": "code", "client_id": COUNCIL_CLIENT_ID,
             "redirect_uri": f"{stack.council_url}/callback", "scope": "openid profile",
             "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
             "code_challenge": challenge, "code_challenge_method": "S256", **params}
    return stack.broker_url + "/authorize?" + "&".join(f"{k}={v}" for k, v in query.items())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("choice", "name"), [
    ("cancel", "cancelled"), ("authn-failed", "authn-failed"), ("loa-pending", "loa-pending"),
    ("requester-error", "hub-error")])
def test_hub_failure_has_its_own_page_and_a_way_back(stack, resident, choice, name, language):
    window = resident()
    start_sign_in(window, stack, language)
    window.page.wait_for_url(re.compile(r"/saml/sso$"))
    choose_at_hub(window, choice)
    window.page.wait_for_url(FAILURE_PAGE_ADDRESS)
    shows_page(window, name, language)
    window.page.reload()  # left open while the resident phones the council: the same page
    window.page.wait_for_load_state("load")
    assert window.page.locator(f"[data-page={name}]").count() == 1
    assert window.heading() == title(name, language)
    window.page.locator("#continue").click()
    window.page.wait_for_url(re.compile(r"/callback\?error="))
    assert window.heading() == ("You have not been signed in" if language == "en"
                                else "Nid ydych wedi mewngofnodi")
    if choice == "cancel":
        window.inspect("council-signin-failed", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_resident_below_the_level_the_council_needs_sees_level_not_met(stack, resident, language):
    window = resident()
    window.page.goto(authorize_url(stack, acr_values="urn:uk:gov:cabinet-office:tc:saml:"
                                   "authn-context:level2", ui_locales=language))
    window.page.wait_for_url(re.compile(r"/saml/sso$"))
    choose_at_hub(window, "lee")
    window.page.wait_for_url(FAILURE_PAGE_ADDRESS)
    shows_page(window, "level-not-met", language)
    assert window.page.locator("#continue").count() == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_going_back_to_an_answer_already_used_shows_session_expired(stack, resident, language):
    window = resident(javascript=False)
    page = window.page
    start_sign_in(window, stack, language)
    page.locator("#hub-handoff button").click()
    page.locator("#choice-jane").check()
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/saml/answer$"))
    page.locator("#post-back button").click()
    page.wait_for_url(f"{stack.council_url}/")
    page.go_back()                                   # the back button, then Continue again
    page.wait_for_url(re.compile(r"/saml/answer$"))
    page.locator("#post-back button").click()
    page.wait_for_url(re.compile(r"/saml/acs$"))
    shows_page(window, "session-expired", language)
    # The flow is gone, but the broker remembers which council the resident came from.
    way_back = page.locator("#way-back")
    assert way_back.get_attribute("href") == stack.council_url
    council = "Test Borough Council" if language == "en" else "Cyngor Bwrdeistref Prawf"
    assert way_back.inner_text() == ("Return to " if language == "en" else "Dychwelyd i ") + council


@pytest.mark.parametrize("language", LANGUAGES)
def test_sign_in_link_from_an_unknown_council_app_shows_invalid_request(stack, resident, language):
    window = resident()
    window.page.goto(authorize_url(stack, client_id="no-such-app", ui_locales=language))
    shows_page(window, "invalid-request", language)
    assert window.page.locator("#continue").count() == 0   # never redirect to an unknown app


@pytest.mark.parametrize("language", LANGUAGES)
def test_unknown_address_shows_not_found(stack, resident, language):
    window = resident()
    window.page.goto(f"{stack.broker_url}/no-such-page?lang={language}")
    shows_page(window, "not-found", language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", ["error", "unavailable"])
def test_pages_a_resident_cannot_cause_on_purpose_pass_the_same_checks(stack, resident, name,
                                                                       language):
    # An unexpected error or a Redis outage cannot be provoked from the browser, so the page is
    # opened through its signed page link (what its language switch uses).
    with stack.broker_app.test_request_context():
        path = page_link(name, language, reference="7F3A9C21", service_name="Test Borough services",
                         continue_url=f"{stack.council_url}/callback?error=temporarily_unavailable")
    window = resident()
    window.page.goto(stack.broker_url + path)
    shows_page(window, name, language)
    if name == "error":
        assert window.page.locator("#reference").inner_text() == "7F3A9C21"
        assert "Traceback" not in window.page.content()


def test_language_switch_on_a_failure_page_shows_it_in_welsh(stack, resident):
    window = resident()
    start_sign_in(window, stack, "en")
    choose_at_hub(window, "cancel")
    window.page.wait_for_url(FAILURE_PAGE_ADDRESS)
    return_link = window.page.locator("#continue").get_attribute("href")
    window.switch_language()
    assert window.heading() == WELSH_TITLES["cancelled"]
    assert window.page.locator("#continue").get_attribute("href") == return_link
    assert window.page.locator("#continue").inner_text() == "Dychwelyd i Test Borough services"
