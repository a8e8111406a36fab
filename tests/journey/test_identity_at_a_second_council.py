"""Attack 1 of issue 13: two residents who both passed the cycle 3 question at one council must
stay two residents at a second council reached by single sign-on (the second JSON writer of the
cycle 3 page dropped `persistent_id`, so every such resident hashed to one PID there)."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from tests import hub_messages
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.forms import form_fields
from tests.matching.conftest import match_answer, matching_config
from tests.oidc_client import authorize, post_to_acs, query, redeem

OTHER_MATCHING_URL = "https://matching.other-borough.example/match"
OTHER_CLIENT, OTHER_SECRET = "other-app", "other-secret"



def answer_cycle3(browser, page, answer: str) -> requests.Response:
    """The cycle 3 form submitted from `browser`, without following the broker's redirect."""
    _method, action, fields = form_fields(page.text, "cycle3")
    return browser.post(urljoin(page.url, action), allow_redirects=False, timeout=10,
                        data={**fields, "answer": answer, "action": "continue"})

def two_councils(ports):
    callback = [f"{ports.url('council')}/callback"]
    return {"councils.other-borough": {
                "name": "Other Borough Council",
                "entity_id": "https://other-borough.example.gov.uk",
                "matching": matching_config(service_url=OTHER_MATCHING_URL)},
            "clients": [
                {"client_id": COUNCIL_CLIENT_ID, "council": "test-borough",
                 "client_secret": COUNCIL_CLIENT_SECRET, "scopes": ["openid", "profile"],
                 "redirect_uris": callback},
                {"client_id": OTHER_CLIENT, "council": "other-borough",
                 "client_secret": OTHER_SECRET, "scopes": ["openid", "profile"],
                 "redirect_uris": callback}]}


def userinfo_at_other_council(stack, browser: requests.Session) -> dict:
    """Single sign-on from the browser's broker session to the second council's app."""
    attempt = authorize(stack, session=browser, client_id=OTHER_CLIENT)
    assert attempt.response.status_code == 302, attempt.response.text
    params = query(attempt.response.headers["Location"])
    token = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri,
                   auth=(OTHER_CLIENT, OTHER_SECRET)).json()
    return requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()


def signed_in_through_cycle3(stack, identity: str) -> requests.Session:
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    page = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, identity),
                       attempt.relay_state, session=browser)
    assert 'id="cycle3"' in page.text, page.text
    done = answer_cycle3(browser, page, "40012345")
    assert done.status_code == 302 and "code" in query(done.headers["Location"]), done.text
    return browser


def test_two_residents_through_cycle3_stay_two_residents_at_a_second_council(
        matching_stack, matching_service):
    stack = matching_stack(cycle3=True, extra_overrides=two_councils)
    no_match, match = {"result": "no-match"}, {"result": "match"}
    match_answer(matching_service, no_match, {**match, "localAccountId": "TB-JANE"},
                 no_match, {**match, "localAccountId": "TB-SAM"})
    match_answer(matching_service, {**match, "localAccountId": "OB-JANE"},
                 {**match, "localAccountId": "OB-SAM"}, url=OTHER_MATCHING_URL)

    jane = userinfo_at_other_council(stack, signed_in_through_cycle3(stack, "jane"))
    sam = userinfo_at_other_council(stack, signed_in_through_cycle3(stack, "sam"))

    assert jane["local_account_id"] == "OB-JANE"
    assert sam["sub"] != jane["sub"]
    assert sam["local_account_id"] == "OB-SAM"
    hashed_pids = [c.request.body for c in matching_service.calls
                   if c.request.url == OTHER_MATCHING_URL]
    assert len(hashed_pids) == 2, "the second resident was linked to the first one's account"
