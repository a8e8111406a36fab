"""Attack 3 of issue 13: a session must not outlive what replaced it, nor its tokens its logout.

One browser holds at most one live broker session. A forced re-authentication (prompt=login,
max_age), a cycle 3 detour or a second sign-in keeps that one session and its list of council
apps, so that logout reaches every app the browser signed in to; logout also revokes the
session's access tokens."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import requests
import responses

from tests.forms import form_fields
from tests.matching.conftest import match_answer, stack_links
from tests.oidc.conftest import SAME_COUNCIL_CLIENT, SECRET
from tests.oidc_client import authorize, query, redeem, sign_in

APP_ONE_BCL = "https://council-app.example.gov.uk/bcl"
APP_TWO_BCL = "https://council-app-2.example.gov.uk/bcl"



def answer_cycle3(browser, page, answer: str) -> requests.Response:
    """The cycle 3 form submitted from `browser`, without following the broker's redirect."""
    _method, action, fields = form_fields(page.text, "cycle3")
    return browser.post(urljoin(page.url, action), allow_redirects=False, timeout=10,
                        data={**fields, "answer": answer, "action": "continue"})

def live_sessions(stack) -> list:
    return list(stack.redis.scan_iter(f"{stack.prefix}session:*"))


def logout_calls(stack, browser, id_token: str) -> tuple[int, int]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        app_one = mock.post(APP_ONE_BCL, status=200)
        app_two = mock.post(APP_TWO_BCL, status=200)
        browser.get(f"{stack.broker_url}/logout", timeout=10, allow_redirects=False,
                    params={"id_token_hint": id_token})
    return app_one.call_count, app_two.call_count


def test_after_a_forced_reauthentication_logout_reaches_every_app_either_session_had(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser)
    sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)        # single sign-on: app two
    attempt, params = sign_in(oidc_stack, browser, prompt="login")      # a fresh hub sign-in
    assert len(live_sessions(oidc_stack)) == 1
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    assert logout_calls(oidc_stack, browser, token["id_token"]) == (1, 1)
    assert live_sessions(oidc_stack) == []


def test_max_age_reauthentication_keeps_one_session(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)
    sign_in(oidc_stack, browser, max_age="0")
    assert len(live_sessions(oidc_stack)) == 1


def test_a_second_resident_in_the_same_browser_logs_the_first_one_out_of_their_apps(oidc_stack):
    browser = requests.Session()
    sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        app_two = mock.post(APP_TWO_BCL, status=200)
        sign_in(oidc_stack, browser, identity="sam", prompt="login")
    assert app_two.call_count == 1
    assert len(live_sessions(oidc_stack)) == 1


def test_an_access_token_is_refused_at_userinfo_after_logout(oidc_stack):
    browser = requests.Session()
    attempt, params = sign_in(oidc_stack, browser)
    token = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{oidc_stack.broker_url}/userinfo", headers=bearer, timeout=10).ok
    logout_calls(oidc_stack, browser, token["id_token"])
    refused = requests.get(f"{oidc_stack.broker_url}/userinfo", headers=bearer, timeout=10)
    assert refused.status_code == 401 and "invalid_token" in refused.headers["WWW-Authenticate"]


def test_a_code_redeemed_after_logout_gives_no_token(oidc_stack):
    browser = requests.Session()
    first, first_params = sign_in(oidc_stack, browser)
    attempt, params = sign_in(oidc_stack, browser, client_id=SAME_COUNCIL_CLIENT)
    token = redeem(oidc_stack, first_params["code"], first.verifier, first.redirect_uri).json()
    logout_calls(oidc_stack, browser, token["id_token"])
    response = redeem(oidc_stack, params["code"], attempt.verifier, attempt.redirect_uri,
                      auth=(SAME_COUNCIL_CLIENT, SECRET))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def two_apps_with_matching(ports):
    callback = [f"{ports.url('council')}/callback"]
    return {"clients": [
        {"client_id": "council-app", "council": "test-borough", "client_secret": SECRET,
         "scopes": ["openid"], "redirect_uris": callback, "backchannel_logout_uri": APP_ONE_BCL},
        {"client_id": SAME_COUNCIL_CLIENT, "council": "test-borough", "client_secret": SECRET,
         "scopes": ["openid"], "redirect_uris": callback, "backchannel_logout_uri": APP_TWO_BCL}]}


def test_a_cycle3_detour_from_a_session_keeps_the_session_and_its_apps(matching_stack,
                                                                       matching_service):
    stack = matching_stack(cycle3=True, extra_overrides=two_apps_with_matching)
    match = {"result": "match", "localAccountId": "TB-1"}
    match_answer(matching_service, match, {"result": "no-match"}, match)
    browser = requests.Session()
    sign_in(stack, browser)                                   # cycle 1 match, app one
    stack_links(stack).unlink("test", "test-borough", local_account_id="TB-1")
    attempt = authorize(stack, session=browser, client_id=SAME_COUNCIL_CLIENT)
    assert attempt.response.status_code == 303                # from the session to cycle 3
    question = browser.get(urljoin(attempt.response.url, attempt.response.headers["Location"]),
                           timeout=10)
    assert 'id="cycle3"' in question.text
    done = answer_cycle3(browser, question, "40012345")
    params = query(done.headers["Location"])
    assert len(live_sessions(stack)) == 1
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                   auth=(SAME_COUNCIL_CLIENT, SECRET)).json()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1"))
        app_one = mock.post(APP_ONE_BCL, status=200)
        app_two = mock.post(APP_TWO_BCL, status=200)
        browser.get(f"{stack.broker_url}/logout", timeout=10, allow_redirects=False,
                    params={"id_token_hint": token["id_token"]})
    assert (app_one.call_count, app_two.call_count) == (1, 1)
