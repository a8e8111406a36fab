"""The language a page is shown in: ui_locales, the switch, and the flow across the hub's POST."""

from __future__ import annotations

import requests

from broker.web.i18n import ui_locale_from
from tests.forms import link, submit
from tests.oidc_client import authorize


def test_ui_locales_picks_the_first_language_we_support():
    assert ui_locale_from("fr-CA cy-GB en") == "cy"


def test_ui_locales_without_a_supported_language_means_english():
    assert ui_locale_from("fr de") == "en"


def test_ui_locales_cy_shows_the_hand_off_in_welsh(stack):
    attempt = authorize(stack, ui_locales="cy")
    assert '<html lang="cy"' in attempt.response.text
    assert "Parhau i brofi pwy ydych chi" in attempt.response.text


def test_welsh_holds_across_the_hubs_post_without_any_cookie(stack):
    attempt = authorize(stack, ui_locales="cy")
    chooser = submit(requests.Session(), attempt.response, "hub-handoff")
    answer = submit(requests.Session(), chooser, choice="cancel")
    page = submit(requests.Session(), answer, "post-back")   # a fresh session: no cookie at all
    assert "Gwnaethoch ganslo mewngofnodi" in page.text


def test_language_switch_on_a_failure_page_keeps_the_way_back(stack):
    attempt = authorize(stack)
    browser = requests.Session()
    chooser = submit(browser, attempt.response, "hub-handoff")
    page = submit(browser, submit(browser, chooser, choice="cancel"), "post-back")
    welsh = browser.get(link(page, "language-switch"), timeout=10)
    assert "Gwnaethoch ganslo mewngofnodi" in welsh.text
    assert link(welsh, "continue") == link(page, "continue")


def test_a_forged_page_link_shows_session_expired_not_an_error(stack):
    response = requests.get(f"{stack.broker_url}/page/forged-token?lang=cy", timeout=10)
    assert response.status_code == 400
    assert "Mae eich mewngofnodi wedi dod i ben" in response.text
