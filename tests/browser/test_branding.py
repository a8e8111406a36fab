"""The brand a resident sees, in a real browser: the council's name and logo on every page of its
journey, the deployment's neutral brand elsewhere, each with a configured logo and colour, in
English and Welsh, with axe on each (`Resident.inspect` also checks that no crown, Royal Arms or
GDS Transport reaches the page). Screenshots of both brands go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis

from tests.browser.conftest import choose_at_hub, start_sign_in
from tests.conftest import ROOT, Stack, start_stack, stop_stack

COUNCIL = {"en": "Test Borough Council", "cy": "Cyngor Bwrdeistref Prawf"}
NEUTRAL = {"en": "Shire councils' sign-in", "cy": "Mewngofnodi cynghorau'r sir"}
LANGUAGES = ["en", "cy"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory, keys_dir, redis_url) -> Iterator[Stack]:
    """The conftest's branded council, and a neutral brand with its own logo and colour."""
    def neutral(ports) -> dict:
        return {"branding": {"name": NEUTRAL, "colour": "#00703c",
                             "logo": str(ROOT / "config" / "brand" / "demo-borough-crest.svg"),
                             "logo_alt": {"en": "Shire councils", "cy": "Cynghorau'r sir"}}}

    stack, servers = start_stack(tmp_path_factory.mktemp("browser-branding"), keys_dir, redis_url,
                                 redis.Redis.from_url(redis_url), neutral,
                                 prefix_label="test-browser-branding")
    yield stack
    stop_stack(stack, servers)


def shows_brand(window, key: str, name: str) -> None:
    page = window.page
    assert page.locator("#brand").get_attribute("data-brand") == key
    assert page.locator("#brand-name").inner_text().strip() == name
    logo = page.locator("#brand-logo")
    assert logo.count() == 1 and logo.get_attribute("alt")
    assert page.evaluate("document.getElementById('brand-logo').naturalWidth > 0")
    assert page.locator("#footer-organisation").inner_text() == f"© {name}"


def header_colour(window) -> str:
    return window.page.evaluate(
        "getComputedStyle(document.querySelector('.govuk-generic-header')).backgroundColor")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_of_a_councils_journey_shows_that_council(stack, resident, language):
    window = resident(javascript=False)                  # to see the hand-off page itself
    page = window.page
    start_sign_in(window, stack, language)
    shows_brand(window, "councils/test-borough", COUNCIL[language])
    assert header_colour(window) == "rgb(90, 45, 130)"   # #5a2d82
    window.inspect("branded-hub-handoff", language)
    page.locator("#hub-handoff button").click()
    page.locator("#choice-cancel").check()
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/saml/answer$"))
    page.locator("#post-back button").click()
    page.wait_for_url(re.compile(r"/page/"))  # its own address, after the ACS
    shows_brand(window, "councils/test-borough", COUNCIL[language])
    window.inspect("branded-cancelled", language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_demo_council_app_shows_its_councils_brand(stack, resident, language):
    window = resident()
    window.page.goto(f"{stack.council_url}/?lang={language}")
    shows_brand(window, "councils/test-borough", COUNCIL[language])
    window.inspect("branded-council-home", language)
    start_sign_in(window, stack, language)
    choose_at_hub(window, "jane")
    window.page.wait_for_url(f"{stack.council_url}/")
    shows_brand(window, "councils/test-borough", COUNCIL[language])
    assert window.page.locator("#local-account").get_attribute("data-matching") == "none"
    window.inspect("branded-council-signed-in", language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("page_name", "path"), [
    ("not-found", "/no-such-page"),
    ("invalid-request", "/authorize?client_id=no-such-app&response_type=code")])
def test_pages_outside_any_councils_journey_show_the_neutral_brand(stack, resident, language,
                                                                  page_name, path):
    window = resident()
    separator = "&" if "?" in path else "?"
    window.page.goto(f"{stack.broker_url}{path}{separator}lang={language}")
    assert window.page.locator(f"[data-page={page_name}]").count() == 1
    shows_brand(window, "deployment", NEUTRAL[language])
    assert header_colour(window) == "rgb(0, 112, 60)"   # #00703c
    window.inspect(f"neutral-{page_name}", language)


def test_the_neutral_brand_without_configuration_is_plain(stack_factory, resident):
    stack = stack_factory()
    window = resident()
    window.page.goto(f"{stack.broker_url}/no-such-page")
    assert window.page.locator("#brand").get_attribute("data-brand") == "deployment"
    assert window.page.locator("#brand-name").inner_text() == "Council sign-in"
    assert window.page.locator("#brand-logo").count() == 0
    assert header_colour(window) == "rgb(11, 12, 12)"   # #0b0c0c
    window.inspect("neutral-plain-not-found", "en")
