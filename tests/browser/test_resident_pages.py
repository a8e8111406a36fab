"""The pages around a sign-in, in Chromium (issue 26.2, 26.4, 26.5): contact details where the
next step is the council, the council's brand kept on pages that no longer know the flow, the
way to cancel signing out, the footer every UK public sector page needs, the cookies page, and
the broker's and stub hub's own addresses (no 404)."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import choose_at_hub, start_sign_in

LANGUAGES = ["en", "cy"]
COUNCIL_BRAND = "councils/test-borough"


def brand_key(window) -> str:
    return window.page.locator("#brand").get_attribute("data-brand")


@pytest.mark.parametrize("language", LANGUAGES)
def test_authentication_failed_shows_the_councils_contact_details(stack, resident, language):
    window = resident()
    start_sign_in(window, stack, language)
    window.page.wait_for_url(re.compile(r"/saml/sso$"))
    choose_at_hub(window, "authn-failed")
    window.page.wait_for_url(re.compile(r"/page/"))  # its own address, after the ACS
    contact = window.page.locator("#council-contact")
    assert contact.is_visible()
    assert "0300 555 0100" in contact.inner_text()
    assert ("Phone:" if language == "en" else "Ffôn:") in contact.inner_text()
    window.inspect("broker-authn-failed-contact", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_expired_sign_in_keeps_the_councils_brand_and_way_back(stack, resident, language):
    window = resident()
    start_sign_in(window, stack, language)               # the broker remembers the council
    window.page.goto(f"{stack.broker_url}/page/no-longer-valid?lang={language}")
    assert window.page.locator("[data-page=session-expired]").count() == 1
    assert brand_key(window) == COUNCIL_BRAND
    window.inspect("broker-session-expired-branded", language)
    window.page.locator("#way-back").click()
    window.page.wait_for_url(f"{stack.council_url}/")


def signed_in(window, stack) -> None:
    start_sign_in(window, stack, "en")
    choose_at_hub(window, "jane")
    window.page.wait_for_url(f"{stack.council_url}/")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sign_out_question_can_be_cancelled(stack, resident, language):
    window = resident()
    signed_in(window, stack)
    window.page.goto(f"{stack.broker_url}/logout?lang={language}")  # no id_token_hint: asked
    assert window.page.locator("#logout-confirm").count() == 1
    assert brand_key(window) == COUNCIL_BRAND
    window.inspect("broker-logout-confirm", language)
    window.page.locator("#cancel-sign-out").click()
    window.page.wait_for_url(f"{stack.council_url}/")
    cookies = {c["name"] for c in window.page.context.cookies(stack.broker_url)}
    assert "broker_session" in cookies                  # still signed in at the broker


def test_the_signed_out_page_keeps_the_councils_brand(stack, resident):
    window = resident()
    signed_in(window, stack)
    window.page.goto(f"{stack.broker_url}/logout")
    window.page.locator("#sign-out").click()
    window.page.wait_for_load_state("load")
    assert window.page.locator("[data-page=signed-out]").count() == 1
    assert brand_key(window) == COUNCIL_BRAND
    assert window.page.locator("#way-back").get_attribute("href") == stack.council_url
    window.inspect("broker-signed-out-branded", "en")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_footer_links_to_the_councils_statements_and_the_cookies_page(stack, resident,
                                                                          language):
    window = resident()
    start_sign_in(window, stack, language)
    window.page.goto(f"{stack.broker_url}/cookies?lang={language}")
    page = window.page
    assert brand_key(window) == COUNCIL_BRAND
    assert page.locator("#footer-accessibility").get_attribute("href") == \
        f"{stack.council_url}/accessibility"
    assert page.locator("#footer-privacy").get_attribute("href") == f"{stack.council_url}/privacy"
    assert page.locator("#footer-accessibility").inner_text() == (
        "Accessibility statement" if language == "en" else "Datganiad hygyrchedd")
    names = page.locator("#cookies tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["broker_binding", "broker_council", "broker_lang", "broker_session"]
    window.inspect("broker-cookies", language)
    page.locator("#footer-cookies").click()
    page.wait_for_url(re.compile(r"/cookies"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_brokers_own_address_is_a_landing_page_not_a_404(stack, resident, language):
    window = resident()
    response = window.page.goto(f"{stack.broker_url}/?lang={language}")
    assert response.status == 200
    assert window.page.locator("[data-page=landing]").count() == 1
    window.inspect("broker-landing", language)
    window.page.locator("#councils a").first.click()
    window.page.wait_for_url(f"{stack.council_url}/")


def test_the_stub_hubs_own_address_says_what_it_is(stack, resident):
    window = resident()
    response = window.page.goto(f"{stack.hub_url}/")
    assert response.status == 200
    assert window.page.locator("[data-page=stub-home]").count() == 1
    window.inspect("stub-hub-home", "en")
