"""The whole sign-in with One Login upstream, over HTTP: council app → broker → stub One Login →
broker → council app, as a browser without JavaScript does it."""

from __future__ import annotations

import requests

from tests.forms import submit


def sign_in(stack, choice: str | None = None, browser: requests.Session | None = None
            ) -> requests.Response:
    browser = browser or requests.Session()
    home = browser.get(stack.council_url, timeout=10)
    chooser = submit(browser, home)  # "Sign in" → /authorize → 302 to One Login's /authorize
    assert chooser.url.startswith(stack.stub.base_url), chooser.url
    return submit(browser, chooser, **({"choice": choice} if choice else {}))


def test_resident_signs_in_through_one_login_and_council_app_shows_verified_name(one_login_stack):
    page = sign_in(one_login_stack)
    assert page.status_code == 200
    assert "Jane Doe" in page.text
    assert "1980-05-01" in page.text
    assert "LEVEL_2" in page.text


def test_p1_identity_signs_in_at_level_1(one_login_stack):
    page = sign_in(one_login_stack, "lee")
    assert "Lee One" in page.text
    assert "LEVEL_1" in page.text
