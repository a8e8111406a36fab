"""Logout CSRF: a logout request ends the browser's session only when it proves it comes from
that session: an id_token_hint whose `sid` is this session, or the confirmation form's token."""

from __future__ import annotations

import lxml.html
import requests

from tests.oidc_client import authorize, query, redeem, sign_in


def signed_in_browser(stack) -> tuple[requests.Session, str]:
    browser = requests.Session()
    attempt, params = sign_in(stack, browser)
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    return browser, token["id_token"]


def still_signed_in(stack, browser) -> bool:
    attempt = authorize(stack, session=browser, prompt="none")
    return "code" in query(attempt.response.headers["Location"])


def confirmation_form(page: requests.Response) -> dict[str, str]:
    document = lxml.html.fromstring(page.text)
    (form,) = document.xpath('//form[@id="logout-confirm"]')
    return {field.get("name"): field.get("value") for field in form.xpath(".//input")}


def test_an_id_token_hint_from_another_session_only_shows_the_confirmation(oidc_stack):
    victim, _ = signed_in_browser(oidc_stack)
    _, attackers_own_token = signed_in_browser(oidc_stack)
    page = victim.get(f"{oidc_stack.broker_url}/logout", timeout=10, allow_redirects=False,
                      params={"id_token_hint": attackers_own_token})
    assert page.status_code == 200 and 'id="logout-confirm"' in page.text
    assert still_signed_in(oidc_stack, victim)


def test_an_id_token_hint_of_this_session_signs_out_without_asking(oidc_stack):
    browser, id_token = signed_in_browser(oidc_stack)
    page = browser.get(f"{oidc_stack.broker_url}/logout", timeout=10,
                       params={"id_token_hint": id_token})
    assert 'id="logout-confirm"' not in page.text
    assert not still_signed_in(oidc_stack, browser)


def test_a_forged_confirmation_post_without_the_token_is_asked_again(oidc_stack):
    victim, _ = signed_in_browser(oidc_stack)
    page = victim.post(f"{oidc_stack.broker_url}/logout", timeout=10, data={})
    assert 'id="logout-confirm"' in page.text
    assert still_signed_in(oidc_stack, victim)


def test_a_confirmation_token_of_another_session_is_refused(oidc_stack):
    victim, _ = signed_in_browser(oidc_stack)
    attacker, _ = signed_in_browser(oidc_stack)
    attackers_form = confirmation_form(attacker.get(f"{oidc_stack.broker_url}/logout",
                                                    timeout=10))
    page = victim.post(f"{oidc_stack.broker_url}/logout", timeout=10, data=attackers_form)
    assert 'id="logout-confirm"' in page.text
    assert still_signed_in(oidc_stack, victim)


def test_the_resident_confirming_signs_out(oidc_stack):
    browser, _ = signed_in_browser(oidc_stack)
    form = confirmation_form(browser.get(f"{oidc_stack.broker_url}/logout", timeout=10))
    assert form["csrf_token"]
    page = browser.post(f"{oidc_stack.broker_url}/logout", timeout=10, data=form)
    assert 'id="logout-confirm"' not in page.text
    assert not still_signed_in(oidc_stack, browser)
